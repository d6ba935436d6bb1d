//! A small hostile HTTP/1.1 server on 127.0.0.1 for tests of what Stripe never sends: it answers
//! every request with what the test's function says, and counts requests and body bytes sent.

use std::io::{BufRead, BufReader, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;

/// The answer to one request.
pub enum Reply {
    /// These bytes, as they are (status line, headers, body), then the connection is closed.
    Raw(Vec<u8>),
    /// This status line and headers (without the blank line), then a chunked body that never ends
    /// (stops when the client hangs up, or after 1 GiB).
    Endless { head: String },
}

impl Reply {
    /// A whole response with a JSON body.
    pub fn json(status: &str, headers: &[(&str, &str)], body: &str) -> Reply {
        let mut s =
            format!("HTTP/1.1 {status}\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n", body.len());
        for (k, v) in headers {
            s.push_str(&format!("{k}: {v}\r\n"));
        }
        s.push_str("\r\n");
        s.push_str(body);
        Reply::Raw(s.into_bytes())
    }
}

pub struct Hostile {
    pub base_url: String,
    requests: Arc<AtomicUsize>,
    body_bytes: Arc<AtomicU64>,
}

impl Hostile {
    /// Starts the server; `reply` gets each request line (`GET /v1/coupons?limit=100 HTTP/1.1`).
    pub fn start(reply: impl Fn(&str) -> Reply + Send + Sync + 'static) -> Hostile {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let base_url = format!("http://{}", listener.local_addr().unwrap());
        let (requests, body_bytes) = (Arc::new(AtomicUsize::new(0)), Arc::new(AtomicU64::new(0)));
        let reply = Arc::new(reply);
        let (r, b) = (requests.clone(), body_bytes.clone());
        std::thread::spawn(move || {
            for conn in listener.incoming().flatten() {
                let (reply, r, b) = (reply.clone(), r.clone(), b.clone());
                std::thread::spawn(move || serve(conn, &*reply, &r, &b));
            }
        });
        Hostile { base_url, requests, body_bytes }
    }

    /// Requests answered so far.
    pub fn requests(&self) -> usize {
        self.requests.load(Ordering::SeqCst)
    }

    /// Bytes of endless bodies written so far.
    pub fn body_bytes(&self) -> u64 {
        self.body_bytes.load(Ordering::SeqCst)
    }
}

fn serve(conn: TcpStream, reply: &(dyn Fn(&str) -> Reply + Send + Sync), requests: &AtomicUsize, body_bytes: &AtomicU64) {
    let mut reader = BufReader::new(conn.try_clone().unwrap());
    let mut request_line = String::new();
    if reader.read_line(&mut request_line).unwrap_or(0) == 0 {
        return;
    }
    loop {
        let mut header = String::new();
        if reader.read_line(&mut header).unwrap_or(0) == 0 || header == "\r\n" {
            break;
        }
    }
    requests.fetch_add(1, Ordering::SeqCst);
    let mut out = conn;
    match reply(request_line.trim_end()) {
        Reply::Raw(bytes) => {
            let _ = out.write_all(&bytes);
        }
        Reply::Endless { head } => {
            if out.write_all(format!("{head}\r\ntransfer-encoding: chunked\r\n\r\n").as_bytes()).is_err() {
                return;
            }
            let chunk = vec![b' '; 64 * 1024];
            let mut framed = format!("{:x}\r\n", chunk.len()).into_bytes();
            framed.extend_from_slice(&chunk);
            framed.extend_from_slice(b"\r\n");
            for _ in 0..(1 << 14) {
                if out.write_all(&framed).is_err() {
                    return;
                }
                body_bytes.fetch_add(chunk.len() as u64, Ordering::SeqCst);
            }
        }
    }
}
