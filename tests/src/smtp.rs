//! A minimal SMTP server on loopback that keeps every message it receives:
//! the real protocol, spoken to the real mail code.

use std::sync::{Arc, Mutex};

use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpListener;
use tokio::sync::Notify;

#[derive(Clone, Default)]
pub struct SmtpSink {
    messages: Arc<Mutex<Vec<String>>>,
    arrived: Arc<Notify>,
    pub url: String,
}

impl SmtpSink {
    pub async fn start() -> SmtpSink {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let sink = SmtpSink {
            url: format!("smtp://{}", listener.local_addr().unwrap()),
            ..SmtpSink::default()
        };
        let accepting = sink.clone();
        tokio::spawn(async move {
            while let Ok((socket, _)) = listener.accept().await {
                let sink = accepting.clone();
                tokio::spawn(async move { sink.session(socket).await });
            }
        });
        sink
    }

    async fn session(&self, socket: tokio::net::TcpStream) -> std::io::Result<()> {
        let (read, mut write) = socket.into_split();
        let mut lines = BufReader::new(read).lines();
        write.write_all(b"220 cairn-test-sink ESMTP\r\n").await?;
        while let Some(line) = lines.next_line().await? {
            let verb = line
                .split_whitespace()
                .next()
                .unwrap_or("")
                .to_ascii_uppercase();
            match verb.as_str() {
                "EHLO" | "HELO" => write.write_all(b"250 cairn-test-sink\r\n").await?,
                "DATA" => {
                    write.write_all(b"354 end with .\r\n").await?;
                    let mut message = String::new();
                    while let Some(line) = lines.next_line().await? {
                        if line == "." {
                            break;
                        }
                        message.push_str(line.strip_prefix('.').unwrap_or(&line));
                        message.push('\n');
                    }
                    self.messages.lock().unwrap().push(message);
                    self.arrived.notify_waiters();
                    write.write_all(b"250 queued\r\n").await?;
                }
                "QUIT" => {
                    write.write_all(b"221 bye\r\n").await?;
                    return Ok(());
                }
                _ => write.write_all(b"250 ok\r\n").await?,
            }
        }
        Ok(())
    }

    pub fn messages(&self) -> Vec<String> {
        self.messages.lock().unwrap().clone()
    }

    /// Waits for a message to `to` with `subject`; returns it.
    pub async fn wait_for(&self, to: &str, subject: &str) -> String {
        let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(30);
        loop {
            let arrived = self.arrived.notified();
            if let Some(m) = self.messages().into_iter().find(|m| {
                m.contains(&format!("To: {to}")) && m.contains(&format!("Subject: {subject}"))
            }) {
                return m;
            }
            if tokio::time::timeout_at(deadline, arrived).await.is_err() {
                panic!(
                    "no mail `{subject}` to {to} arrived; got {:?}",
                    self.messages()
                );
            }
        }
    }
}
