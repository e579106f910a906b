//! The chart page once keys exist: a browser signs in with a read key kept in an `HttpOnly`,
//! `SameSite=Strict` cookie that only the page's routes read, sees its hotels only, is refused
//! (in HTML) anything else, signs out; a revoked key closes the page at once; with no key left
//! the page is open again. Over HTTP, and in headless chromium driven through its DevTools pipe.

use std::io::{Read, Write};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::time::Duration;

use reqwest::header::{COOKIE, LOCATION, SET_COOKIE};
use reqwest::StatusCode;
use roompulse::auth::manage::{self, Modules, Target};
use roompulse::auth::Scope;
use secrecy::ExposeSecret;
use serde_json::{json, Value};

use crate::common::wait::eventually;
use crate::helpers::TestApp;
use crate::web_page::{chromium, put_figures};

const MINE: i32 = 2601;
const OTHER: i32 = 2602;

fn targets(app: &TestApp) -> Vec<Target> {
    Modules::Both.targets(&app.events_db_url(), &app.dashboard_db_url())
}

async fn create(app: &TestApp, name: &str, scopes: &[Scope], hotels: Option<&[i32]>) -> String {
    manage::create(&targets(app), Some(name), scopes, hotels)
        .await
        .expect("create a key")
        .key
        .expose_secret()
        .to_string()
}

/// Waits until the running app's Dashboard knows `keys`: a request without a key is refused
/// (until the app has read a key it has none and is open), and none of `keys` is unknown.
async fn until_known(app: &TestApp, keys: &[&str]) {
    let refused = |auth: Option<String>| async move {
        let mut r = app
            .client
            .get(app.url(&format!("/dashboard/lead-time?hotel_id={MINE}")));
        if let Some(auth) = auth {
            r = r.header("authorization", auth);
        }
        r.send().await.unwrap().status() == StatusCode::UNAUTHORIZED
    };
    eventually(
        "the app knows the new keys",
        Duration::from_secs(30),
        || async {
            if !refused(None).await {
                return false;
            }
            for key in keys {
                if refused(Some(format!("Bearer {key}"))).await {
                    return false;
                }
            }
            true
        },
    )
    .await;
}

async fn with_figures() -> TestApp {
    let app = TestApp::spawn().await;
    put_figures(
        &app,
        &[
            (MINE, 1, "2022-06-03", 5, 2),
            (OTHER, 1, "2022-06-03", 9, 1),
        ],
    )
    .await;
    app
}

/// A client that shows redirects instead of following them.
fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
}

async fn get_page(app: &TestApp, path: &str, cookie: Option<&str>) -> (StatusCode, String) {
    let mut r = client().get(app.url(path));
    if let Some(c) = cookie {
        r = r.header(COOKIE, c);
    }
    let r = r.send().await.unwrap();
    let status = r.status();
    assert_eq!(
        r.headers()["content-type"],
        "text/html; charset=utf-8",
        "{path}"
    );
    (status, r.text().await.unwrap())
}

async fn sign_in(app: &TestApp, key: &str, headers: &[(&str, String)]) -> reqwest::Response {
    let mut r = client()
        .post(app.url("/sign-in"))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(
            url::form_urlencoded::Serializer::new(String::new())
                .append_pair("return", &format!("hotel_id={MINE}&year=2022"))
                .append_pair("key", key)
                .finish(),
        );
    for (name, value) in headers {
        r = r.header(*name, value);
    }
    r.send().await.unwrap()
}

#[tokio::test]
async fn a_read_key_signs_the_page_in_through_a_cookie_only_the_page_reads() {
    let app = with_figures().await;
    let origin = app.url("");
    let origin = origin.trim_end_matches('/').to_string();
    let ingest = create(&app, "pms", &[Scope::Ingest], Some(&[MINE])).await;
    let key = create(&app, "front desk", &[Scope::Read], Some(&[MINE])).await;
    until_known(&app, &[&key, &ingest]).await;

    // Keys exist: the page asks for one, in HTML, with the sign-in form.
    let (status, body) = get_page(&app, &format!("/?hotel_id={MINE}"), None).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert!(body.contains(r#"<form id="sign-in" method="post" action="/sign-in">"#));
    assert!(
        body.contains(r#"name="return" value="hotel_id=2601""#),
        "{body}"
    );
    assert!(!body.contains("<section"));

    // Only from the page itself: another site, or no origin at all, cannot sign a browser in.
    for headers in [
        vec![],
        vec![("origin", "http://evil.example".to_string())],
        vec![("referer", "http://evil.example/".to_string())],
    ] {
        let r = sign_in(&app, &key, &headers).await;
        assert_eq!(r.status(), StatusCode::FORBIDDEN, "{headers:?}");
        assert!(r.headers().get(SET_COOKIE).is_none());
        assert!(r.text().await.unwrap().contains("this service's own page"));
    }
    // A key that is not one, or cannot read: refused in HTML, no cookie.
    let bad = sign_in(&app, "rp_nope_nope", &[("origin", origin.clone())]).await;
    assert_eq!(bad.status(), StatusCode::UNAUTHORIZED);
    assert!(bad.headers().get(SET_COOKIE).is_none());
    assert!(bad
        .text()
        .await
        .unwrap()
        .contains("That key is not accepted"));
    let wrong = sign_in(&app, &ingest, &[("origin", origin.clone())]).await;
    assert_eq!(wrong.status(), StatusCode::FORBIDDEN);
    assert!(wrong.headers().get(SET_COOKIE).is_none());
    assert!(wrong.text().await.unwrap().contains("`read` scope"));

    // Signed in: back to the page asked for, the key in an HttpOnly, SameSite=Strict cookie.
    let r = sign_in(&app, &key, &[("origin", origin.clone())]).await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    assert_eq!(r.headers()[LOCATION], "/?hotel_id=2601&year=2022");
    let set = r.headers()[SET_COOKIE].to_str().unwrap().to_string();
    assert!(
        set.starts_with("roompulse_key=")
            && set.contains("HttpOnly")
            && set.contains("SameSite=Strict")
            && !set.contains("Secure"),
        "{set}"
    );
    let cookie = set.split(';').next().unwrap().to_string();
    // Behind a TLS proxy the cookie is Secure too.
    let tls = sign_in(
        &app,
        &key,
        &[
            ("origin", origin.clone()),
            ("x-forwarded-proto", "https".into()),
        ],
    )
    .await;
    assert!(tls.headers()[SET_COOKIE]
        .to_str()
        .unwrap()
        .contains("; Secure"));

    let (status, body) = get_page(&app, "/?hotel_id=2601&year=2022", Some(&cookie)).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert!(body.contains("Hotel 2601, 2022, per month"), "{body}");
    assert!(body.contains(r#"action="/sign-out""#));
    assert!(!body.contains(r#"<option value="2602""#), "{body}");
    // Another hotel: 403 in HTML, and the form says the hotel is not allowed, not figureless.
    let (status, body) = get_page(&app, "/?hotel_id=2602&year=2022", Some(&cookie)).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert!(body.contains("this key does not give access to hotel 2602"));
    assert!(body.contains("2602 (not allowed)"), "{body}");
    assert!(!body.contains("(no figures)") && !body.contains("<section"));

    // The JSON API does not take the cookie: Bearer only, so no other site can use it.
    let r = client()
        .get(app.url("/dashboard?hotel_id=2601&period=month&year=2022"))
        .header(COOKIE, &cookie)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
    assert!(r.headers()["content-type"]
        .to_str()
        .unwrap()
        .starts_with("application/json"));

    // Revoked: the cookie stops working at once, and the page drops it.
    manage::revoke(&targets(&app), "front desk").await.unwrap();
    eventually(
        "the page refuses the revoked key",
        Duration::from_secs(30),
        || {
            let (app, cookie) = (&app, cookie.clone());
            async move { get_page(app, "/", Some(&cookie)).await.0 == StatusCode::UNAUTHORIZED }
        },
    )
    .await;
    let r = client()
        .get(app.url("/"))
        .header(COOKIE, &cookie)
        .send()
        .await
        .unwrap();
    assert!(r.headers()[SET_COOKIE]
        .to_str()
        .unwrap()
        .contains("Max-Age=0"));
    let body = r.text().await.unwrap();
    assert!(body.contains("no longer accepted") && body.contains("revoked"));
    assert!(body.contains(r#"<form id="sign-in""#));

    // Signing out drops the cookie and goes back to the page.
    let r = client()
        .post(app.url("/sign-out"))
        .header("origin", &origin)
        .header(COOKIE, &cookie)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    assert_eq!(r.headers()[LOCATION], "/");
    assert!(r.headers()[SET_COOKIE]
        .to_str()
        .unwrap()
        .starts_with("roompulse_key=;"));
}

#[tokio::test]
async fn with_no_key_left_the_page_is_open_again() {
    let app = with_figures().await;
    let key = create(&app, "only", &[Scope::Read], None).await;
    until_known(&app, &[&key]).await;
    assert_eq!(get_page(&app, "/", None).await.0, StatusCode::UNAUTHORIZED);
    // Revoked keys still close it, as they close the API: only no key at all opens it.
    for url in [app.events_db_url(), app.dashboard_db_url()] {
        let (db, conn) = tokio_postgres::connect(&url, tokio_postgres::NoTls)
            .await
            .unwrap();
        tokio::spawn(conn);
        db.execute("DELETE FROM api_keys", &[]).await.unwrap();
    }
    eventually(
        "the page is open again",
        Duration::from_secs(30),
        || async { get_page(&app, "/", None).await.0 == StatusCode::OK },
    )
    .await;
    let (_, body) = get_page(&app, "/", None).await;
    // Open to all again: the hotel with the most events of all, not the key's.
    assert!(body.contains("Hotel 2602, 2022, per month"), "{body}");
    assert!(!body.contains(r#"action="/sign-out""#));
}

/// Headless chromium driven through the DevTools protocol on a pipe (`--remote-debugging-pipe`:
/// it reads commands on fd 3 and writes answers on fd 4, each JSON text ended by a NUL).
struct Browser {
    child: std::process::Child,
    commands: std::fs::File,
    answers: tokio::sync::mpsc::UnboundedReceiver<Value>,
    next_id: u64,
    session: Option<String>,
    _profile: tempfile::TempDir,
}

fn pipe() -> (OwnedFd, OwnedFd) {
    let mut fds = [0; 2];
    // SAFETY: `fds` has room for the two descriptors pipe2 writes.
    let rc = unsafe { libc::pipe2(fds.as_mut_ptr(), libc::O_CLOEXEC) };
    assert_eq!(rc, 0, "pipe2: {}", std::io::Error::last_os_error());
    // SAFETY: both were just opened and are owned by nothing else.
    unsafe { (OwnedFd::from_raw_fd(fds[0]), OwnedFd::from_raw_fd(fds[1])) }
}

impl Browser {
    async fn start() -> Self {
        use std::os::unix::process::CommandExt;
        let profile = tempfile::tempdir().unwrap();
        let (their_in, commands) = pipe();
        let (answers_out, their_out) = pipe();
        let (fd_in, fd_out) = (their_in.as_raw_fd(), their_out.as_raw_fd());
        let mut cmd = std::process::Command::new(chromium());
        cmd.args(crate::web_page::CHROMIUM_FLAGS)
            .arg("--remote-debugging-pipe")
            .arg(format!("--user-data-dir={}", profile.path().display()))
            .stdin(std::process::Stdio::null())
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null());
        // SAFETY: only async-signal-safe calls between fork and exec. Each end is first moved
        // above 10 so that putting one on fd 3 cannot overwrite the other; dup2 clears
        // close-on-exec on 3 and 4.
        unsafe {
            cmd.pre_exec(move || {
                let a = libc::fcntl(fd_in, libc::F_DUPFD, 10);
                let b = libc::fcntl(fd_out, libc::F_DUPFD, 10);
                if a < 0 || b < 0 || libc::dup2(a, 3) < 0 || libc::dup2(b, 4) < 0 {
                    return Err(std::io::Error::last_os_error());
                }
                Ok(())
            });
        }
        let child = cmd.spawn().expect("start chromium");
        drop((their_in, their_out));
        let (tx, answers) = tokio::sync::mpsc::unbounded_channel();
        let mut from = std::fs::File::from(answers_out);
        std::thread::spawn(move || {
            let mut pending = Vec::new();
            let mut buf = [0u8; 65536];
            while let Ok(n @ 1..) = from.read(&mut buf) {
                pending.extend_from_slice(&buf[..n]);
                while let Some(end) = pending.iter().position(|&b| b == 0) {
                    let message: Vec<u8> = pending.drain(..=end).collect();
                    if let Ok(v) = serde_json::from_slice(&message[..end]) {
                        if tx.send(v).is_err() {
                            return;
                        }
                    }
                }
            }
        });
        let mut browser = Browser {
            child,
            commands: std::fs::File::from(commands),
            answers,
            next_id: 0,
            session: None,
            _profile: profile,
        };
        let target = browser
            .call("Target.createTarget", json!({"url": "about:blank"}))
            .await;
        let target = target["targetId"].as_str().unwrap().to_string();
        let attached = browser
            .call(
                "Target.attachToTarget",
                json!({"targetId": target, "flatten": true}),
            )
            .await;
        browser.session = Some(attached["sessionId"].as_str().unwrap().to_string());
        browser
    }

    /// Sends a command (to the page once attached) and awaits its answer, skipping events.
    async fn call(&mut self, method: &str, params: Value) -> Value {
        self.next_id += 1;
        let id = self.next_id;
        let mut message = json!({"id": id, "method": method, "params": params});
        if let Some(session) = &self.session {
            message["sessionId"] = json!(session);
        }
        let mut bytes = serde_json::to_vec(&message).unwrap();
        bytes.push(0);
        self.commands.write_all(&bytes).unwrap();
        // A hang guard, not a performance assertion.
        tokio::time::timeout(Duration::from_secs(60), async {
            loop {
                let answer = self.answers.recv().await.expect("chromium went away");
                if answer["id"] == id {
                    assert!(answer.get("error").is_none(), "{method}: {answer}");
                    return answer["result"].clone();
                }
            }
        })
        .await
        .unwrap_or_else(|_| panic!("no answer to {method} within 60 s"))
    }

    /// The value of a script run in the page (`null` while a page is loading).
    async fn eval(&mut self, expression: &str) -> Value {
        let r = self
            .call(
                "Runtime.evaluate",
                json!({"expression": expression, "returnByValue": true}),
            )
            .await;
        r["result"]["value"].clone()
    }

    /// Awaits a page where `expression` is true.
    async fn until(&mut self, what: &str, expression: &str) {
        let check = format!("document.readyState === 'complete' && !!({expression})");
        let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
        while self.eval(&check).await != json!(true) {
            assert!(
                tokio::time::Instant::now() < deadline,
                "timed out waiting until {what}: {}",
                self.eval("document.documentElement.outerHTML").await
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    async fn open(&mut self, url: &str) {
        self.call("Page.navigate", json!({"url": url})).await;
    }
}

impl Drop for Browser {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[tokio::test]
async fn a_browser_signs_in_sees_its_hotel_is_refused_another_and_signs_out() {
    chromium();
    let app = with_figures().await;
    let key = create(&app, "front desk", &[Scope::Read], Some(&[MINE])).await;
    until_known(&app, &[&key]).await;
    let mut browser = Browser::start().await;

    browser.open(&app.url("/?hotel_id=2601&year=2022")).await;
    browser
        .until(
            "the sign-in form shows",
            "document.querySelector('form#sign-in')",
        )
        .await;
    assert_eq!(
        browser.eval("document.querySelector('section')").await,
        Value::Null
    );
    let sign_in = format!(
        "document.querySelector('#sign-in input[name=key]').value = {};\
         document.querySelector('#sign-in button').click(); true",
        json!(key)
    );
    browser.eval(&sign_in).await;
    browser
        .until(
            "the figures of the key's hotel show",
            "document.querySelector('section#by-month')",
        )
        .await;
    let caption = browser
        .eval("document.querySelector('section#by-month h2').textContent")
        .await;
    assert_eq!(caption, "Hotel 2601, 2022, per month (event basis)");
    assert_eq!(
        browser
            .eval("[...document.querySelectorAll('select[name=hotel_id] option')].map(o => o.value).join()")
            .await,
        "2601",
        "only the key's hotel is offered"
    );
    // The key is out of the page's scripts' reach.
    assert_eq!(browser.eval("document.cookie").await, "");

    browser.open(&app.url("/?hotel_id=2602&year=2022")).await;
    browser
        .until("the refusal shows", "document.querySelector('p.error')")
        .await;
    assert_eq!(
        browser
            .eval("document.querySelector('p.error').textContent")
            .await,
        "this key does not give access to hotel 2602"
    );
    assert_eq!(
        browser
            .eval("document.querySelector('select[name=hotel_id] option[selected]').textContent")
            .await,
        "2602 (not allowed)"
    );
    assert_eq!(
        browser.eval("document.querySelector('section')").await,
        Value::Null
    );

    browser
        .eval("document.querySelector('form.account button').click(); true")
        .await;
    browser
        .until(
            "signed out, back on the page's sign-in",
            "location.search === '' && document.querySelector('form#sign-in') \
             && !document.querySelector('form.account')",
        )
        .await;
    browser.open(&app.url("/?hotel_id=2601&year=2022")).await;
    browser
        .until(
            "the page asks for a key again",
            "location.search === '?hotel_id=2601&year=2022' && document.querySelector('form#sign-in')",
        )
        .await;
    assert_eq!(
        browser.eval("document.querySelector('section')").await,
        Value::Null
    );
}
