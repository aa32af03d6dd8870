//! What the services of one cell share, below the services themselves: the
//! caller and its role as the database knows them now, company-scoped
//! queries, group resolution, the quota check, agent status and the registry
//! of tenant tables and object prefixes.
//!
//! It knows neither tonic nor the protos, and no service crate.
