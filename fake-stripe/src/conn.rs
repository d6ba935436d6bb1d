/*!
Connections that a handler can cut mid-response (the `reset_mid_body` fault).

[`CutListener`] wraps the TCP listener; every connection gets a [`Cut`] handle, reachable from the
handler as `ConnectInfo<Cut>`. [`Cut::arm`] makes the connection pass the next response's head and
`keep` bytes of its body, then shut the socket down and fail the write, so hyper drops the connection:
the client sees the headers (with the full `Content-Length`) and a body cut short.
*/

use axum::extract::connect_info::Connected;
use axum::serve::{IncomingStream, Listener};
use std::io;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{ready, Context, Poll};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream};

/// A connection's cut switch.
#[derive(Debug, Clone, Default)]
pub struct Cut(Arc<Mutex<Option<usize>>>);

impl Cut {
    /// The next response on this connection stops after `keep` bytes of its body.
    pub fn arm(&self, keep: usize) {
        *self.0.lock().unwrap_or_else(|e| e.into_inner()) = Some(keep);
    }

    fn take(&self) -> Option<usize> {
        self.0.lock().unwrap_or_else(|e| e.into_inner()).take()
    }
}

/// The TCP listener, handing out [`CutIo`] connections.
pub struct CutListener(pub TcpListener);

impl Listener for CutListener {
    type Io = CutIo;
    type Addr = Cut;

    async fn accept(&mut self) -> (CutIo, Cut) {
        let (io, _) = Listener::accept(&mut self.0).await;
        let cut = Cut::default();
        (CutIo { inner: io, cut: cut.clone(), cutting: None }, cut)
    }

    fn local_addr(&self) -> io::Result<Cut> {
        Ok(Cut::default())
    }
}

impl Connected<IncomingStream<'_, CutListener>> for Cut {
    fn connect_info(stream: IncomingStream<'_, CutListener>) -> Cut {
        stream.remote_addr().clone()
    }
}

/// Progress of an armed cut: the head is passed whole (up to `\r\n\r\n`), then `left` body bytes.
struct Cutting {
    head_done: bool,
    tail: Vec<u8>,
    left: usize,
}

/// A TCP connection that can be cut (see [`Cut`]).
pub struct CutIo {
    inner: TcpStream,
    cut: Cut,
    cutting: Option<Cutting>,
}

impl AsyncRead for CutIo {
    fn poll_read(mut self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &mut ReadBuf<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_read(cx, buf)
    }
}

impl AsyncWrite for CutIo {
    fn poll_write(mut self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>> {
        let this = &mut *self;
        if this.cutting.is_none() {
            if let Some(left) = this.cut.take() {
                this.cutting = Some(Cutting { head_done: false, tail: Vec::new(), left });
            }
        }
        let Some(c) = this.cutting.as_mut() else {
            return Pin::new(&mut this.inner).poll_write(cx, buf);
        };
        // Where the head ends in `buf`, if it does.
        let head_end = if c.head_done {
            Some(0)
        } else {
            let mut joined = c.tail.clone();
            joined.extend_from_slice(buf);
            joined.windows(4).position(|w| w == b"\r\n\r\n").map(|p| (p + 4).saturating_sub(c.tail.len()))
        };
        let allowed = match head_end {
            Some(end) => (end + c.left).min(buf.len()),
            None => buf.len(),
        };
        if allowed == 0 {
            ready!(Pin::new(&mut this.inner).poll_shutdown(cx))?;
            return Poll::Ready(Err(io::Error::new(io::ErrorKind::ConnectionReset, "fake-stripe: reset_mid_body")));
        }
        let n = ready!(Pin::new(&mut this.inner).poll_write(cx, &buf[..allowed]))?;
        match head_end {
            Some(end) if n >= end => {
                c.head_done = true;
                c.left -= n - end;
            }
            _ => {
                c.tail.extend_from_slice(&buf[..n]);
                let drop = c.tail.len().saturating_sub(3);
                c.tail.drain(..drop);
            }
        }
        Poll::Ready(Ok(n))
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}
