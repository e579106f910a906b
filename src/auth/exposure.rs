//! Which modules' APIs answer anyone, as `/ready` reports it and `serve` logs it.
//!
//! Each module checks keys in its own database: a key created with `keys create --module
//! data-provider` closes the Data Provider's API and leaves the Dashboard's open to anyone
//! (and a per-hotel key limits nothing there). That is right when the Dashboard runs elsewhere
//! with keys of its own, and a silent leak when one `serve` runs both: so whenever one module is
//! closed while another is open, it is said.

use super::{Auth, Scope};

/// How one module's API is reached.
pub fn describe(auth: &Auth) -> &'static str {
    match (auth.required(Scope::Read), auth.required(Scope::Ingest)) {
        (true, true) => "closed: a key or token is required",
        (false, false) => "open: anyone can call it (no API key in its database, no token)",
        (false, true) => "reads open: anyone can read every hotel (no API key in its database, no READ_API_TOKEN)",
        (true, false) => "writes open: anyone can write events (no API key in its database, no INGEST_API_TOKEN)",
    }
}

/// The modules' states, for comparing one reading with the next.
pub fn states(modules: &[(&'static str, &Auth)]) -> Vec<(&'static str, &'static str)> {
    modules.iter().map(|(m, a)| (*m, describe(a))).collect()
}

/// The warning for `modules` (name, auth) when one of them requires keys for reads while
/// another lets anyone read: the keys were most likely meant for both.
pub fn half_open_warning(modules: &[(&'static str, &Auth)]) -> Option<String> {
    let closed: Vec<&str> = modules
        .iter()
        .filter(|(_, a)| a.required(Scope::Read))
        .map(|(m, _)| *m)
        .collect();
    let open: Vec<&str> = modules
        .iter()
        .filter(|(_, a)| !a.required(Scope::Read))
        .map(|(m, _)| *m)
        .collect();
    if closed.is_empty() || open.is_empty() {
        return None;
    }
    Some(format!(
        "the {} API requires a key but the {} API is open: anyone who reaches it reads every hotel there, whatever hotels a key is limited to. Create the keys in every module's database (`roompulse keys create --module both`), unless that module is served elsewhere with keys of its own",
        closed.join(" and "),
        open.join(" and ")
    ))
}
