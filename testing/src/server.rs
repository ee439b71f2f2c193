//! A tokio runtime for a relay's router: requests handed to it in-process, and serving
//! it on 127.0.0.1 when asked; when dropped, it stops serving gracefully (the requests in
//! flight finish, at most five seconds).

use std::net::SocketAddr;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use axum::Router;
use axum::body::{Body, Bytes};
use axum::http::{Request, Response};
use timebank_server::{Relay, app};
use tokio::sync::oneshot;
use tower::ServiceExt as _;

/// Serving: the address, the stop signal, and the serving task.
#[derive(Debug)]
struct Listening {
    addr: SocketAddr,
    stop: oneshot::Sender<()>,
    served: tokio::task::JoinHandle<()>,
}

/// The runtime, and where it listens once asked to.
#[derive(Debug)]
pub struct Server {
    runtime: Option<tokio::runtime::Runtime>,
    listening: Mutex<Option<Listening>>,
}

impl Server {
    /// A runtime of `workers` threads, not listening yet.
    pub fn new(workers: usize) -> std::io::Result<Server> {
        let runtime =
            tokio::runtime::Builder::new_multi_thread().worker_threads(workers).thread_name("test-relay").enable_all().build()?;
        Ok(Server { runtime: Some(runtime), listening: Mutex::new(None) })
    }

    /// `relay`'s routes served on 127.0.0.1 (a relay restored from a backup, another
    /// process on the same store).
    pub fn start(relay: Arc<Relay>) -> Server {
        let server = Server::new(2).unwrap();
        server.listen(&app(relay)).unwrap();
        server
    }

    fn runtime(&self) -> &tokio::runtime::Runtime {
        self.runtime.as_ref().expect("the runtime lives until the server is dropped")
    }

    /// Serves `router` on 127.0.0.1:0 (once: later calls give the same address).
    pub fn listen(&self, router: &Router) -> std::io::Result<SocketAddr> {
        let mut listening = self.listening.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(listening) = listening.as_ref() {
            return Ok(listening.addr);
        }
        let listener = self.runtime().block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))?;
        let addr = listener.local_addr()?;
        let (stop, stopped) = oneshot::channel::<()>();
        let served = axum::serve(listener, router.clone()).with_graceful_shutdown(async {
            let _ = stopped.await;
        });
        let served = self.runtime().spawn(async move {
            if let Err(error) = served.await {
                eprintln!("the test relay stopped serving: {error}");
            }
        });
        *listening = Some(Listening { addr, stop, served });
        Ok(addr)
    }

    /// Where it listens, if it was asked to.
    pub fn addr(&self) -> Option<SocketAddr> {
        self.listening.lock().unwrap_or_else(PoisonError::into_inner).as_ref().map(|listening| listening.addr)
    }

    /// `http://127.0.0.1:PORT`, if it listens.
    pub fn url(&self) -> Option<String> {
        self.addr().map(|addr| format!("http://{addr}"))
    }

    /// Hands `request` to `router` in-process (no socket, no HTTP framing, the same
    /// handlers) and reads the whole answer.
    pub fn call(&self, router: &Router, request: Request<Body>) -> Result<Response<Bytes>, axum::Error> {
        let router = router.clone();
        self.runtime().block_on(async move {
            let response = match router.oneshot(request).await {
                Ok(response) => response,
                Err(never) => match never {},
            };
            let (parts, body) = response.into_parts();
            let body = axum::body::to_bytes(body, usize::MAX).await?;
            Ok(Response::from_parts(parts, body))
        })
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let listening = self.listening.get_mut().unwrap_or_else(PoisonError::into_inner).take();
        if let (Some(Listening { stop, served, .. }), Some(runtime)) = (listening, self.runtime.as_ref()) {
            // The requests in flight finish; connections close.
            let _ = stop.send(());
            let _ = runtime.block_on(async { tokio::time::timeout(Duration::from_secs(5), served).await });
        }
        if let Some(runtime) = self.runtime.take() {
            runtime.shutdown_timeout(Duration::from_secs(5));
        }
    }
}
