//! Networks: loopback is never proxied, HTTPS_PROXY is honoured, redirects are not followed, TLS
//! trusts the system store and `SSL_CERT_FILE`.
//!
//! [`TinyServer`] is a hostile or test-only HTTP(S) server on 127.0.0.1 that records what it got.

use std::io::{Read, Write};
use std::net::TcpListener;
use std::process::Command;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use fake_stripe::{FakeStripe, Options};
use serde_json::{json, Value};

use crate::tap_run::{catalog_selecting, config_for, Files, BIN, KEY};

type Respond = dyn Fn(&str) -> String + Send + Sync;

/// An HTTP/1.1 server on 127.0.0.1 (plain or TLS) that records the head (request line and
/// headers) of every request and answers each with `respond(head)`, one request per connection.
pub struct TinyServer {
    /// `http://127.0.0.1:PORT` (or `https://localhost:PORT`).
    pub url: String,
    seen: Arc<Mutex<Vec<String>>>,
}

impl TinyServer {
    pub fn start(respond: impl Fn(&str) -> String + Send + Sync + 'static) -> TinyServer {
        TinyServer::spawn(None, Arc::new(respond))
    }

    /// A TLS server with the certificate of `tests/data/tls/localhost.pem` (issued by `ca.pem`).
    pub fn start_tls(respond: impl Fn(&str) -> String + Send + Sync + 'static) -> TinyServer {
        use rustls::pki_types::pem::PemObject;
        use rustls::pki_types::{CertificateDer, PrivateKeyDer};
        let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/data/tls/");
        let certs: Vec<CertificateDer<'static>> =
            CertificateDer::pem_file_iter(format!("{dir}localhost.pem")).unwrap().map(Result::unwrap).collect();
        let key = PrivateKeyDer::from_pem_file(format!("{dir}localhost.key")).unwrap();
        let config = rustls::ServerConfig::builder().with_no_client_auth().with_single_cert(certs, key).unwrap();
        TinyServer::spawn(Some(Arc::new(config)), Arc::new(respond))
    }

    fn spawn(tls: Option<Arc<rustls::ServerConfig>>, respond: Arc<Respond>) -> TinyServer {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let url = match tls {
            Some(_) => format!("https://localhost:{port}"),
            None => format!("http://127.0.0.1:{port}"),
        };
        let seen = Arc::new(Mutex::new(Vec::new()));
        let log = Arc::clone(&seen);
        std::thread::spawn(move || {
            for stream in listener.incoming() {
                let Ok(tcp) = stream else { continue };
                let (log, respond, tls) = (Arc::clone(&log), Arc::clone(&respond), tls.clone());
                std::thread::spawn(move || {
                    let _ = tcp.set_read_timeout(Some(Duration::from_secs(10)));
                    match tls {
                        None => serve(tcp, &log, &*respond),
                        Some(config) => {
                            let Ok(conn) = rustls::ServerConnection::new(config) else { return };
                            serve(rustls::StreamOwned::new(conn, tcp), &log, &*respond)
                        }
                    }
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

/// Answers like Stripe with no data: an account for `/v1/account`, an empty list for anything else.
fn empty_stripe(head: &str) -> String {
    if head.starts_with("GET /v1/account ") || head.starts_with("GET /v1/account?") {
        return response("200 OK", "", r#"{"id": "acct_1Tiny", "object": "account"}"#);
    }
    response("200 OK", "", r#"{"object": "list", "data": [], "has_more": false, "url": "/v1/x"}"#)
}

/// Every proxy variable, pointing at `proxy`.
fn proxy_env(proxy: &str) -> Vec<(&'static str, String)> {
    ["HTTP_PROXY", "http_proxy", "HTTPS_PROXY", "https_proxy", "ALL_PROXY", "all_proxy"]
        .into_iter()
        .map(|k| (k, proxy.to_string()))
        .collect()
}

/// The tap with `args`, this environment, and none of the caller's proxy or certificate settings.
fn tap(args: &[&str], env: &[(&str, String)]) -> (Option<i32>, String, String) {
    let mut cmd = Command::new(BIN);
    cmd.args(args);
    for k in [
        "HTTP_PROXY",
        "http_proxy",
        "HTTPS_PROXY",
        "https_proxy",
        "ALL_PROXY",
        "all_proxy",
        "NO_PROXY",
        "no_proxy",
        "SSL_CERT_FILE",
        "SSL_CERT_DIR",
    ] {
        cmd.env_remove(k);
    }
    cmd.env("TAP_STRIPE_RETRY_BASE_MS", "1");
    cmd.envs(env.iter().map(|(k, v)| (k, v)));
    let out = cmd.output().unwrap();
    (out.status.code(), String::from_utf8_lossy(&out.stdout).into_owned(), String::from_utf8_lossy(&out.stderr).into_owned())
}

fn files_for(config: &Value, streams: &[&str]) -> (Files, String, String) {
    let files = Files::new();
    let c = files.json("config.json", config);
    let k = files.json("catalog.json", &catalog_selecting(streams));
    (files, c, k)
}

#[test]
fn loopback_is_never_proxied() {
    let fake = FakeStripe::start(Options::default());
    let proxy = TinyServer::start(|_| response("502 Bad Gateway", "", ""));
    let (_files, c, k) = files_for(&config_for(&fake), &["coupons"]);
    let (code, stdout, stderr) = tap(&["--config", &c, "--catalog", &k], &proxy_env(&proxy.url));
    assert_eq!(code, Some(0), "{stderr}");
    assert!(stdout.contains(r#""type":"RECORD""#), "coupons were read from the fake: {stdout}");
    assert_eq!(proxy.requests(), Vec::<String>::new(), "a request to a loopback base_url went through the proxy");
}

#[test]
fn https_proxy_is_honoured_for_a_remote_host() {
    let proxy = TinyServer::start(|_| response("502 Bad Gateway", "", ""));
    let config = json!({"client_secret": KEY, "base_url": "https://api.stripe.invalid", "account_id": "acct_1Tiny"});
    let (_files, c, _k) = files_for(&config, &["coupons"]);
    let (code, stdout, _) = tap(&["check", "--config", &c], &[("HTTPS_PROXY", proxy.url.clone())]);
    assert_eq!(code, Some(0), "check reports a failure on stdout");
    assert!(stdout.contains("FAILED"), "{stdout}");
    let seen = proxy.requests();
    assert!(!seen.is_empty() && seen.iter().all(|h| h.starts_with("CONNECT api.stripe.invalid:443 ")), "{seen:?}");
    assert!(seen.iter().all(|h| !h.contains(KEY)), "the key stays inside the TLS tunnel: {seen:?}");
}

#[test]
fn a_redirect_is_not_followed_and_names_base_url() {
    let elsewhere = TinyServer::start(empty_stripe);
    let target = format!("{}/v1/coupons", elsewhere.url);
    let redirector = TinyServer::start(move |_| response("302 Found", &format!("Location: {target}\r\n"), ""));
    let fake_free = json!({"client_secret": KEY, "base_url": redirector.url, "account_id": "acct_1Tiny"});
    let (_files, c, k) = files_for(&fake_free, &["coupons"]);

    let (code, _, stderr) = tap(&["--config", &c, "--catalog", &k], &[]);
    assert_eq!(code, Some(2), "a 3xx stops the run with exit 2 (fix base_url): {stderr}");
    let critical = stderr.lines().find(|l| l.contains("CRITICAL")).unwrap_or_else(|| panic!("no CRITICAL line: {stderr}"));
    assert!(critical.contains("`base_url`") && critical.contains("redirect"), "{critical}");
    assert_eq!(redirector.requests().len(), 1, "not retried: {:?}", redirector.requests());

    let (_, stdout, _) = tap(&["check", "--config", &c], &[]);
    assert!(stdout.contains("FAILED") && stdout.contains("`base_url`"), "{stdout}");
    assert_eq!(elsewhere.requests(), Vec::<String>::new(), "the redirect was followed");
}

#[test]
fn an_untrusted_certificate_says_what_to_do_and_ssl_cert_file_fixes_it() {
    let server = TinyServer::start_tls(empty_stripe);
    let config = json!({"client_secret": KEY, "base_url": server.url, "account_id": "acct_1Tiny"});
    let (_files, c, k) = files_for(&config, &["coupons"]);

    let (code, _, stderr) = tap(&["--config", &c, "--catalog", &k], &[]);
    assert_eq!(code, Some(5), "{stderr}");
    assert!(!stderr.contains("retrying"), "a certificate that does not verify is not retried: {stderr}");
    let critical = stderr.lines().find(|l| l.contains("CRITICAL")).unwrap_or_else(|| panic!("no CRITICAL line: {stderr}"));
    assert!(critical.contains("not trusted") && critical.contains("SSL_CERT_FILE"), "{critical}");
    assert!(server.requests().is_empty(), "no request got through the refused handshake");

    let ca = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/data/tls/ca.pem").to_string();
    let (code, stdout, stderr) = tap(&["--config", &c, "--catalog", &k], &[("SSL_CERT_FILE", ca)]);
    assert_eq!(code, Some(0), "{stderr}");
    assert!(stdout.contains(r#""type":"STATE""#), "{stdout}");
    assert!(server.requests().iter().any(|h| h.starts_with("GET /v1/coupons")), "{:?}", server.requests());
}
