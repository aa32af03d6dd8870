//! `cairnctl usage`: the company's seats and storage day by day.

use std::io::Write;
use std::path::Path;

use cairn_proto::orgs::v1::GetUsageRequest;

use cairn_client::Idempotency;

use crate::failed;
use crate::session::session_connection;

use super::Orgs;
use super::format::size;

/// `cairnctl usage`: a table, or CSV with exact byte counts.
pub(crate) async fn run_usage(
    session_path: &Path,
    from: String,
    to: String,
    csv: bool,
    out: &mut dyn Write,
) -> anyhow::Result<()> {
    let (_, conn) = session_connection(session_path).await?;
    let days = conn
        .unary(
            Idempotency::Idempotent,
            GetUsageRequest { from, to },
            |mut c: Orgs, r| async move { c.get_usage(r).await },
        )
        .await
        .map_err(failed("cannot read usage"))?
        .days;
    if csv {
        writeln!(out, "day,seats_used,logical_bytes,stored_bytes")?;
        for d in &days {
            writeln!(
                out,
                "{},{},{},{}",
                d.day, d.seats_used, d.logical_bytes, d.stored_bytes
            )?;
        }
        return Ok(());
    }
    writeln!(
        out,
        "{:<10}  {:>5}  {:>12}  {:>12}",
        "day", "seats", "protected", "stored"
    )?;
    for d in &days {
        writeln!(
            out,
            "{:<10}  {:>5}  {:>12}  {:>12}",
            d.day,
            d.seats_used,
            size(d.logical_bytes),
            size(d.stored_bytes)
        )?;
    }
    Ok(())
}
