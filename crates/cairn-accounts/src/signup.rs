//! Sign-up: a company, its data key and its owner, in the company's home cell.

use sea_orm::{ActiveModelTrait, DatabaseConnection, Set};

use cairn_auth::{Role, hash_password};
use cairn_core::validate::SignUp;
use cairn_core::{CompanyId, Error, Region, UserId};
use cairn_crypto::{DataKey, MasterKey};
use cairn_entity::db_err;
use cairn_entity::regional::{company, user};

use crate::logins::{Logins, release};

pub(crate) struct SignedUp {
    pub(crate) company: CompanyId,
    pub(crate) user: UserId,
}

/// Days without a completed backup before an agent raises an alert.
const DEFAULT_IDLE_ALERT_DAYS: i32 = 7;

pub(crate) async fn sign_up(
    db: &DatabaseConnection,
    region: Region,
    master: &MasterKey,
    logins: &impl Logins,
    form: SignUp,
    ip: &str,
) -> Result<SignedUp, Error> {
    // Sign-up mails a confirmation code to the address given.
    crate::rate::limit_mailing(
        db,
        crate::rate::Mailing::SignUp,
        ip,
        Some(form.email.as_str()),
    )
    .await?;
    let company_id = CompanyId::new();
    let user_id = UserId::new();
    let password = form.password;
    let password_hash = tokio::task::spawn_blocking(move || hash_password(password.expose()))
        .await
        .map_err(|e| Error::internal_with("hashing a password", e))??;
    let data_key =
        DataKey::generate().map_err(|e| Error::internal_with("generating a data key", e))?;
    let wrapped_key = master
        .wrap(&data_key, &company_id.to_string())
        .map_err(|e| Error::internal_with("wrapping a data key", e))?;

    // The directory makes the login unique across regions; reserve it first
    // and give it back if this cell cannot commit.
    logins
        .register_login(form.email.as_str(), company_id)
        .await?;
    let now = chrono::Utc::now();
    let committed = async {
        let txn = cairn_entity::begin_write(db)
            .await
            .map_err(db_err("starting sign-up"))?;
        company::ActiveModel {
            id: Set(company_id.0),
            name: Set(form.company_name),
            industry: Set(form.industry),
            employees: Set(form.employees),
            country: Set(form.country.alpha2().to_owned()),
            region: Set(region.as_str().to_owned()),
            seats: Set(form.seats),
            wrapped_key: Set(wrapped_key),
            created_at: Set(now),
            phone: Set(form.phone),
            city: Set(form.city),
            state: Set(form.state),
            postal_code: Set(form.postal_code),
            signup_ip: Set(ip.to_owned()),
            quota_bytes: Set(None),
            quota_alert_at: Set(None),
            idle_alert_days: Set(DEFAULT_IDLE_ALERT_DAYS),
            personal_key: Set(None),
        }
        .insert(&txn)
        .await
        .map_err(db_err("creating a company"))?;
        let owner = user::ActiveModel {
            id: Set(user_id.0),
            company_id: Set(company_id.0),
            name: Set(form.owner_name),
            email: Set(form.email.as_str().to_owned()),
            password_hash: Set(password_hash),
            role: Set(Role::Owner.as_str().to_owned()),
            created_at: Set(now),
            title: Set(form.owner_title),
            username: Set(form.username),
            signup_ip: Set(ip.to_owned()),
            email_confirmed_at: Set(None),
            marketing_opt_out: Set(false),
            group_id: Set(None),
        }
        .insert(&txn)
        .await
        .map_err(db_err("creating the owner"))?;
        crate::email::send_token(&txn, region, &owner, crate::email::Purpose::Confirm).await?;
        txn.commit().await.map_err(db_err("committing sign-up"))
    }
    .await;
    if let Err(err) = committed {
        release(logins, form.email.as_str(), "failed sign-up").await;
        return Err(err);
    }
    tracing::info!(company = %company_id, %region, "company signed up");
    Ok(SignedUp {
        company: company_id,
        user: user_id,
    })
}
