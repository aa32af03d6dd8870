//! `cairnctl company`: the company's details, seats, quota and personal key.

use std::io::Write;
use std::path::{Path, PathBuf};

use anyhow::Context;
use clap::Subcommand;
use tonic::transport::Channel;

use cairn_client::Idempotency;
use cairn_proto::orgs::v1::{
    GetCompanyRequest, ListEmployeeCountsRequest, SetPersonalKeyRequest, SetQuotaRequest,
    SetSeatsRequest, UpdateCompanyRequest, orgs_service_client::OrgsServiceClient,
};

use crate::failed;
use crate::session::session_connection;

type Orgs = OrgsServiceClient<Channel>;

#[derive(Subcommand)]
pub(crate) enum CompanyCommand {
    /// Correct the company's details (owners and admins).
    Update {
        #[arg(long)]
        name: Option<String>,
        #[arg(long)]
        industry: Option<String>,
        #[arg(long)]
        employees: Option<i64>,
        #[arg(long)]
        phone: Option<String>,
        #[arg(long)]
        city: Option<String>,
        #[arg(long)]
        state: Option<String>,
        #[arg(long)]
        postal_code: Option<String>,
        /// Days without a completed backup before a machine raises an alert.
        #[arg(long)]
        idle_alert_days: Option<i32>,
    },
    /// How the number of employees changed over time.
    Employees,
    /// Set the number of seats bought (the owner).
    Seats { seats: i64 },
    /// Set the storage quota, e.g. 500GiB; 0 for none (the owner).
    Quota { size: String },
    /// Seal the company's data key with a passphrase Cairn never sees
    /// (personal-key mode; the owner, before the first machine is enrolled).
    /// Enrolling a machine and restoring then need the passphrase; if it is
    /// lost, nobody can restore the company's backups.
    PersonalKey {
        /// File holding the passphrase; else CAIRN_KEY_PASSPHRASE.
        #[arg(long)]
        passphrase_file: Option<PathBuf>,
    },
}

/// `cairnctl company`: without a command, shows the company.
pub(crate) async fn run(
    session_path: &Path,
    command: Option<CompanyCommand>,
    out: &mut dyn Write,
) -> anyhow::Result<()> {
    let (_, conn) = session_connection(session_path).await?;
    let c = match command {
        None => conn
            .unary(
                Idempotency::Idempotent,
                GetCompanyRequest {},
                |mut c: Orgs, r| async move { c.get_company(r).await },
            )
            .await
            .map_err(failed("cannot show the company"))?,
        Some(CompanyCommand::Update {
            name,
            industry,
            employees,
            phone,
            city,
            state,
            postal_code,
            idle_alert_days,
        }) => {
            let request = UpdateCompanyRequest {
                name,
                industry,
                employees,
                phone,
                city,
                state,
                postal_code,
                idle_alert_days,
            };
            conn.unary(
                Idempotency::NotIdempotent,
                request,
                |mut c: Orgs, r| async move { c.update_company(r).await },
            )
            .await
            .map_err(failed("cannot update the company"))?
        }
        Some(CompanyCommand::Quota { size }) => conn
            .unary(
                Idempotency::NotIdempotent,
                SetQuotaRequest {
                    quota_bytes: crate::admin::parse_size("quota", &size)?,
                },
                |mut c: Orgs, r| async move { c.set_quota(r).await },
            )
            .await
            .map_err(failed("cannot set the quota"))?,
        Some(CompanyCommand::PersonalKey { passphrase_file }) => {
            let passphrase = cairn_core::secret::read_passphrase(passphrase_file.as_deref())?
                .context("give the passphrase with --passphrase-file or CAIRN_KEY_PASSPHRASE")?;
            if passphrase.chars().count() < 12 {
                anyhow::bail!("the passphrase must be at least 12 characters long");
            }
            let key = cairn_crypto::DataKey::generate()?;
            let sealed = cairn_crypto::PersonalKey::seal(&key, &passphrase)?;
            conn.unary(
                Idempotency::NotIdempotent,
                SetPersonalKeyRequest {
                    personal_key: sealed.to_bytes(),
                },
                |mut c: Orgs, r| async move { c.set_personal_key(r).await },
            )
            .await
            .map_err(failed("cannot set the personal key"))?
        }
        Some(CompanyCommand::Seats { seats }) => conn
            .unary(
                Idempotency::NotIdempotent,
                SetSeatsRequest { seats },
                |mut c: Orgs, r| async move { c.set_seats(r).await },
            )
            .await
            .map_err(failed("cannot set seats"))?,
        Some(CompanyCommand::Employees) => {
            let changes = conn
                .unary(
                    Idempotency::Idempotent,
                    ListEmployeeCountsRequest {},
                    |mut c: Orgs, r| async move { c.list_employee_counts(r).await },
                )
                .await
                .map_err(failed("cannot list employee counts"))?
                .changes;
            for c in changes {
                writeln!(
                    out,
                    "{}  {} -> {}  by {}",
                    c.changed_at, c.previous, c.employees, c.changed_by
                )?;
            }
            return Ok(());
        }
    };
    writeln!(
        out,
        "{} ({}), {} employees, {}; seats {} used of {}; storage {} of {}{}",
        c.name,
        c.industry,
        c.employees,
        c.country,
        c.seats_used,
        c.seats_total,
        crate::admin::size(c.stored_bytes),
        match c.quota_bytes {
            0 => "no quota".to_owned(),
            q => crate::admin::size(q),
        },
        if c.personal_key { "; personal key" } else { "" }
    )?;
    Ok(())
}
