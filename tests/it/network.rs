//! Networks.
//!
//! [`TinyServer`] is a hostile or test-only HTTP server on 127.0.0.1 that records what it got.

use std::io::{Read, Write};
use std::net::TcpListener;
use std::sync::{Arc, Mutex};
use std::time::Duration;

type Respond = dyn Fn(&str) -> String + Send + Sync;

/// An HTTP/1.1 server on 127.0.0.1 that records the head (request line and
/// headers) of every request and answers each with `respond(head)`, one request per connection.
pub struct TinyServer {
    /// `http://127.0.0.1:PORT`.
    pub url: String,
    seen: Arc<Mutex<Vec<String>>>,
}

impl TinyServer {
    pub fn start(respond: impl Fn(&str) -> String + Send + Sync + 'static) -> TinyServer {
        TinyServer::spawn(Arc::new(respond))
    }

    fn spawn(respond: Arc<Respond>) -> TinyServer {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let url = format!("http://127.0.0.1:{port}");
        let seen = Arc::new(Mutex::new(Vec::new()));
        let log = Arc::clone(&seen);
        std::thread::spawn(move || {
            for stream in listener.incoming() {
                let Ok(tcp) = stream else { continue };
                let (log, respond) = (Arc::clone(&log), Arc::clone(&respond));
                std::thread::spawn(move || {
                    let _ = tcp.set_read_timeout(Some(Duration::from_secs(10)));
                    serve(tcp, &log, &*respond)
                });
            }
        });
        TinyServer { url, seen }
    }

    /// The heads of the requests received so far.
    pub fn requests(&self) -> Vec<String> {
        self.seen.lock().unwrap().clone()
    }
}

fn serve(mut stream: impl Read + Write, log: &Mutex<Vec<String>>, respond: &Respond) {
    let mut head = Vec::new();
    let mut byte = [0u8; 1];
    while !head.ends_with(b"\r\n\r\n") {
        match stream.read(&mut byte) {
            Ok(1) => head.push(byte[0]),
            // EOF, a timeout, or a TLS handshake the client broke off: no request.
            _ => return,
        }
    }
    let head = String::from_utf8_lossy(&head).into_owned();
    log.lock().unwrap().push(head.clone());
    let _ = stream.write_all(respond(&head).as_bytes());
    let _ = stream.flush();
}

/// A whole HTTP response that closes the connection.
pub fn response(status: &str, extra_headers: &str, body: &str) -> String {
    format!(
        "HTTP/1.1 {status}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n{extra_headers}\r\n{body}",
        body.len()
    )
}
