//! Whose snapshots a caller may see: owners and admins every machine's; a
//! member, and an agent, the machines of the same person (an agent that
//! belongs to nobody, only its own).

use sea_orm::{ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter};

use cairn_core::Error;
use cairn_entity::regional::agent;
use cairn_entity::{CompanyScope, db_err};
use cairn_tenancy::access::UserCaller;

/// Who is calling, as the database knows them now.
pub(crate) enum Caller {
    Agent(agent::Model),
    User(UserCaller),
}

/// Which agents' snapshots a caller may see.
#[derive(Clone, Debug)]
pub(crate) enum Visible {
    All,
    Agents(Vec<uuid::Uuid>),
}

impl Visible {
    pub(crate) fn allows(&self, agent: uuid::Uuid) -> bool {
        match self {
            Visible::All => true,
            Visible::Agents(ids) => ids.contains(&agent),
        }
    }
}

/// Whose snapshots `caller` sees in the company.
pub(crate) async fn visible<C: ConnectionTrait>(
    db: &C,
    scope: CompanyScope,
    caller: &Caller,
) -> Result<Visible, Error> {
    let owner = match caller {
        Caller::User(user) if user.is_admin() => return Ok(Visible::All),
        Caller::User(user) => user.user.id,
        Caller::Agent(agent) => match agent.owner_user_id {
            Some(owner) => owner,
            None => return Ok(Visible::Agents(vec![agent.id])),
        },
    };
    let ids = agent::Entity::find()
        .filter(agent::Column::CompanyId.eq(scope.uuid()))
        .filter(agent::Column::OwnerUserId.eq(owner))
        .all(db)
        .await
        .map_err(db_err("finding a person's machines"))?
        .into_iter()
        .map(|a| a.id)
        .collect();
    Ok(Visible::Agents(ids))
}
