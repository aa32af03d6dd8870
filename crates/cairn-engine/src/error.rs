use cairn_core::Error;

#[derive(Debug, thiserror::Error)]
pub enum EngineError {
    #[error("i/o: {0}")]
    Io(#[from] std::io::Error),
    #[error(transparent)]
    Crypto(#[from] cairn_crypto::CryptoError),
    #[error("cannot decompress a chunk: {0}")]
    Decompress(String),
    #[error("unknown blob format {0}")]
    Format(u8),
    #[error("chunk is larger than {0} bytes")]
    TooLarge(usize),
    #[error("chunk {id} does not match its id: corrupted data")]
    IdMismatch { id: String },
    #[error("snapshot tree cannot be decoded: {0}")]
    BadTree(String),
    #[error("pack record {index}: {reason}")]
    BadPack { index: usize, reason: String },
}

impl From<EngineError> for Error {
    fn from(err: EngineError) -> Self {
        match err {
            EngineError::BadPack { .. } => Error::invalid("header.chunks", err.to_string()),
            other => Error::internal(other),
        }
    }
}
