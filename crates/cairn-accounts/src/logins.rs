//! The directory's side of an account: a login (email) is unique across
//! regions, so the account logic claims it before it writes and releases it
//! when an account goes. [`crate::DirectoryLink`] is the real one, over gRPC.

use std::future::Future;

use cairn_core::{CompanyId, Error};

/// Claims and releases logins in the global directory.
pub trait Logins: Send + Sync {
    /// Claims `login` for `company`; a login another account holds is
    /// `AlreadyExists`.
    fn register_login(
        &self,
        login: &str,
        company: CompanyId,
    ) -> impl Future<Output = Result<(), Error>> + Send;

    /// Releases `login`; releasing an unknown login is not an error.
    fn unregister_login(&self, login: &str) -> impl Future<Output = Result<(), Error>> + Send;
}

/// Releases `login`, logging (not failing) when the directory cannot be
/// reached: the login stays claimed until an operator retries.
pub(crate) async fn release(logins: &impl Logins, login: &str, what: &'static str) {
    if let Err(err) = logins.unregister_login(login).await {
        tracing::warn!(error = %err, what, "a login stays in the directory until retried");
    }
}
