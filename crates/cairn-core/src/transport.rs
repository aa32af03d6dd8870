//! gRPC transport settings the server and the agent share: each side
//! receives with the same limits what the other sends.

/// Largest gRPC message: a pack data frame is at most 2 MiB and a restore
/// batch a few MiB, but a single stored chunk can reach ~8 MiB.
pub const MAX_MESSAGE_SIZE: usize = 16 * 1024 * 1024;

/// HTTP/2 flow-control windows and the largest frame accepted. Pack uploads
/// (to the server) are 2 MiB messages and restores (to the agent) stream
/// megabyte messages; hyper's defaults (1 MiB windows, 16 KiB frames) make
/// the sender stop for window updates inside every message and cost a
/// frame, a socket read and a wake-up of the receiver per 16 KiB.
pub const STREAM_WINDOW: u32 = 4 * 1024 * 1024;
pub const CONNECTION_WINDOW: u32 = 8 * 1024 * 1024;
pub const MAX_FRAME: u32 = 256 * 1024;
