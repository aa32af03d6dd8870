//! Whose snapshots a caller may see.

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
