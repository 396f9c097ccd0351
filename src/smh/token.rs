//! Access tokens: a fixed `accessToken`, or `getAccessToken()` called again when SMH refuses the
//! current one. Concurrent refreshes are merged into one call.

use std::cell::RefCell;
use std::rc::Rc;

use crate::error::{Error, Result};
use crate::net::SingleFlight;
use crate::platform::LocalBoxFuture;

/// Where tokens come from.
pub trait TokenProvider {
    /// Fetches a token (called at the first request and after SMH refused the current one).
    fn fetch(&self) -> LocalBoxFuture<'static, Result<String>>;
}

/// Caches the current token and de-duplicates refreshes.
#[derive(Clone)]
pub struct Tokens(Rc<RefCell<Inner>>);

struct Inner {
    current: Option<String>,
    provider: Option<Rc<dyn TokenProvider>>,
    fetching: SingleFlight<Result<String>>,
}

impl Tokens {
    /// A fixed token that cannot be refreshed.
    pub fn fixed(token: String) -> Tokens {
        Tokens::new(None, Some(token))
    }

    /// Tokens from a provider; `initial` is used first when given.
    pub fn from_provider(provider: Rc<dyn TokenProvider>, initial: Option<String>) -> Tokens {
        Tokens::new(Some(provider), initial)
    }

    fn new(provider: Option<Rc<dyn TokenProvider>>, current: Option<String>) -> Tokens {
        Tokens(Rc::new(RefCell::new(Inner { current, provider, fetching: SingleFlight::default() })))
    }

    /// Whether a refused token can be replaced.
    pub fn can_refresh(&self) -> bool {
        self.0.borrow().provider.is_some()
    }

    /// The current token, fetching one if there is none (one fetch for concurrent callers).
    pub async fn get(&self) -> Result<String> {
        let fetch = {
            let inner = self.0.borrow();
            if let Some(t) = &inner.current {
                return Ok(t.clone());
            }
            let Some(provider) = &inner.provider else {
                return Err(Error::AccessToken { message: "no accessToken and no getAccessToken option".into() }.into());
            };
            inner.fetching.join(|| provider.fetch())
        };
        let result = fetch.await;
        let mut inner = self.0.borrow_mut();
        match &result {
            Ok(t) if !t.is_empty() => inner.current = Some(t.clone()),
            Ok(_) => return Err(Error::AccessToken { message: "getAccessToken returned an empty token".into() }.into()),
            Err(_) => {}
        }
        result
    }

    /// SMH refused `stale`: the next [`Tokens::get`] fetches a new token, unless another request
    /// replaced it already.
    pub fn forget(&self, stale: &str) {
        let mut inner = self.0.borrow_mut();
        if inner.current.as_deref() == Some(stale) {
            inner.current = None;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::cell::Cell;

    struct Counting(Rc<Cell<u32>>);
    impl TokenProvider for Counting {
        fn fetch(&self) -> LocalBoxFuture<'static, Result<String>> {
            let n = self.0.get() + 1;
            self.0.set(n);
            Box::pin(async move { Ok(format!("t{n}")) })
        }
    }

    #[test]
    fn refresh_is_deduplicated() {
        futures::executor::block_on(async {
            let calls = Rc::new(Cell::new(0));
            let tokens = Tokens::from_provider(Rc::new(Counting(calls.clone())), None);
            assert_eq!(tokens.get().await.unwrap(), "t1");
            assert_eq!(tokens.get().await.unwrap(), "t1");
            tokens.forget("t1");
            let (a, b) = futures::join!(tokens.get(), tokens.get());
            assert_eq!((a.unwrap(), b.unwrap()), ("t2".to_string(), "t2".to_string()));
            assert_eq!(calls.get(), 2);
            // A refresh for an already-replaced token does not fetch again.
            tokens.forget("t1");
            assert_eq!(tokens.get().await.unwrap(), "t2");
            assert_eq!(calls.get(), 2);
        });
    }

    #[test]
    fn fixed_token_cannot_refresh() {
        futures::executor::block_on(async {
            let tokens = Tokens::fixed("abc".into());
            assert!(!tokens.can_refresh());
            tokens.forget("abc");
            assert!(matches!(tokens.get().await.map_err(|e| *e), Err(Error::AccessToken { .. })));
        });
    }
}
