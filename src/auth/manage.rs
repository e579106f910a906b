//! `roompulse keys create|list|revoke`: the same key written to every module database the
//! command is pointed at (both by default), so that one key works on both APIs while each module
//! checks keys in its own database only.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};

use super::key::{self, RngError};
use super::store::{self, KeyRow, KeyStoreError, NewKeyRow, Revoked};
use super::Scope;
use crate::db::{self, DbError, PgPool};

/// Which modules' databases `roompulse keys` works on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Modules {
    DataProvider,
    Dashboard,
    /// One key for both APIs.
    Both,
}

/// One module's database.
pub struct Target {
    pub module: &'static str,
    pub url: String,
}

impl Modules {
    pub fn targets(self, data_provider_url: &str, dashboard_url: &str) -> Vec<Target> {
        let dp = || Target {
            module: "data-provider",
            url: data_provider_url.to_string(),
        };
        let dash = || Target {
            module: "dashboard",
            url: dashboard_url.to_string(),
        };
        match self {
            Modules::DataProvider => vec![dp()],
            Modules::Dashboard => vec![dash()],
            Modules::Both => vec![dp(), dash()],
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ManageError {
    #[error(transparent)]
    Db(#[from] DbError),
    #[error("{module} database: {source}")]
    Store {
        module: &'static str,
        source: KeyStoreError,
    },
    #[error(transparent)]
    Rng(#[from] RngError),
    #[error("no key is named {0:?} or has that id")]
    NotFound(String),
    #[error("--name {0}")]
    BadName(String),
}

fn at(module: &'static str) -> impl FnOnce(KeyStoreError) -> ManageError {
    move |source| ManageError::Store { module, source }
}

/// Migrates each target (a database without the keys' table gets it) and opens a small pool.
async fn open(targets: &[Target]) -> Result<Vec<(&'static str, PgPool)>, ManageError> {
    let mut pools = Vec::new();
    for t in targets {
        let migrations = if t.module == "dashboard" {
            db::DASHBOARD_MIGRATIONS
        } else {
            db::DATA_PROVIDER_MIGRATIONS
        };
        db::migrate(&t.url, migrations).await?;
        pools.push((t.module, db::pool(&t.url, 1)?));
    }
    Ok(pools)
}

/// A key just created: `key` is printed once and kept nowhere.
pub struct Created {
    pub key: secrecy::SecretString,
    pub row: KeyRow,
    pub modules: Vec<&'static str>,
}

impl Created {
    pub fn summary(&self) -> String {
        format!(
            "created key {} ({}): scope {}, {}, in the {} database{}. It is shown once, here; only its hash is stored.",
            self.row.id,
            self.row.name,
            self.row.scopes.join(", "),
            hotels_text(self.row.hotels.as_deref()),
            self.modules.join(" and "),
            plural(&self.modules),
        )
    }
}

fn plural(modules: &[&str]) -> &'static str {
    if modules.len() > 1 {
        "s"
    } else {
        ""
    }
}

fn check_name(name: &str) -> Result<(), ManageError> {
    if name.trim().is_empty() || name.chars().count() > 200 {
        return Err(ManageError::BadName("must have 1 to 200 characters".into()));
    }
    if key::parse_id(name).is_some() {
        // `keys revoke` takes a name or an id: one must never be the other.
        return Err(ManageError::BadName(
            "must not look like a key id (16 hex digits)".into(),
        ));
    }
    Ok(())
}

/// Creates a key with `scopes` for `hotels` (`None`: every hotel) in every target.
pub async fn create(
    targets: &[Target],
    name: Option<&str>,
    scopes: &[Scope],
    hotels: Option<&[i32]>,
) -> Result<Created, ManageError> {
    let new = key::generate()?;
    let name = name.map_or_else(|| format!("key-{}", new.id), str::to_string);
    check_name(&name)?;
    let mut scopes = scopes.to_vec();
    scopes.sort_unstable();
    scopes.dedup();
    let mut hotels = hotels.map(<[i32]>::to_vec);
    if let Some(h) = &mut hotels {
        h.sort_unstable();
        h.dedup();
    }
    let row = NewKeyRow {
        id: &new.id,
        name: &name,
        secret_sha256: &new.secret_sha256,
        scopes: &scopes,
        hotels: hotels.as_deref(),
    };
    let pools = open(targets).await?;
    let mut stored: Vec<(&'static str, &PgPool)> = Vec::new();
    let mut created = None;
    for (module, pool) in &pools {
        match store::insert(pool, &row).await {
            Ok(r) => {
                stored.push((*module, pool));
                created = Some(r);
            }
            Err(e) => {
                // All or nothing: the key was never shown, so removing it takes it from no one.
                for (m, p) in &stored {
                    if let Err(undo) = store::delete(p, &new.id).await {
                        tracing::warn!(module = m, error = %undo, id = %new.id, "cannot remove the half-created key; revoke it");
                    }
                }
                return Err(at(module)(e));
            }
        }
    }
    let row = created.ok_or_else(|| ManageError::NotFound(name.clone()))?;
    Ok(Created {
        key: new.key,
        row,
        modules: stored.iter().map(|(m, _)| *m).collect(),
    })
}

/// What `keys create --module <one>` warns about when the other module's database holds no key:
/// each module checks keys in its own database, so a `serve` running both leaves that module's
/// API open to anyone, whatever hotels the new key is limited to. `None` for `--module both`, or
/// when the other database has keys.
pub async fn other_module_open(
    module: Modules,
    data_provider_url: &str,
    dashboard_url: &str,
) -> Option<String> {
    let other = match module {
        Modules::Both => return None,
        Modules::DataProvider => Modules::Dashboard,
        Modules::Dashboard => Modules::DataProvider,
    };
    let target = other.targets(data_provider_url, dashboard_url).pop()?;
    let keys = match db::pool(&target.url, 1) {
        Ok(pool) => store::all(&pool).await.map_err(|e| e.to_string()),
        Err(e) => Err(e.to_string()),
    };
    let (module, other) = (module.targets("", "").pop()?.module, target.module);
    match keys {
        Ok(keys) if !keys.is_empty() => None,
        Ok(_) => Some(format!(
            "warning: the {other} database has no API key: a `serve` running both modules leaves the {other} API open to anyone (every hotel), while the {module} API now requires a key. Create keys with --module both, or in the {other} database too, unless the {other} module runs elsewhere with keys of its own (`/ready` says which modules are open)"
        )),
        Err(e) => Some(format!(
            "warning: cannot tell whether the {other} database has API keys ({e}): without one, a `serve` running both modules leaves the {other} API open to anyone (`/ready` says which modules are open)"
        )),
    }
}

/// A key as `keys list` shows it, merged over the targets.
#[derive(Debug, Clone)]
pub struct Listed {
    pub row: KeyRow,
    pub modules: Vec<&'static str>,
}

/// Every key in the targets, oldest first.
pub async fn list(targets: &[Target]) -> Result<Vec<Listed>, ManageError> {
    let pools = open(targets).await?;
    let mut by_id: BTreeMap<String, Listed> = BTreeMap::new();
    for (module, pool) in &pools {
        for row in store::all(pool).await.map_err(at(module))? {
            match by_id.get_mut(&row.id) {
                Some(seen) => {
                    seen.modules.push(*module);
                    seen.row.last_used_at = seen.row.last_used_at.max(row.last_used_at);
                    seen.row.revoked_at = seen.row.revoked_at.or(row.revoked_at);
                }
                None => {
                    by_id.insert(
                        row.id.clone(),
                        Listed {
                            row,
                            modules: vec![*module],
                        },
                    );
                }
            }
        }
    }
    let mut keys: Vec<Listed> = by_id.into_values().collect();
    keys.sort_by(|a, b| (a.row.created_at, &a.row.id).cmp(&(b.row.created_at, &b.row.id)));
    Ok(keys)
}

/// `keys list` as a table: never the key, nor its hash.
pub fn list_table(keys: &[Listed]) -> String {
    let when = |t: Option<DateTime<Utc>>| {
        t.map_or_else(
            || "never".to_string(),
            |t| t.format("%Y-%m-%d %H:%M:%S UTC").to_string(),
        )
    };
    let mut rows = vec![[
        "ID".to_string(),
        "NAME".into(),
        "SCOPES".into(),
        "HOTELS".into(),
        "CREATED".into(),
        "LAST USED".into(),
        "REVOKED".into(),
        "MODULES".into(),
    ]];
    for k in keys {
        rows.push([
            k.row.id.clone(),
            k.row.name.clone(),
            k.row.scopes.join(","),
            match &k.row.hotels {
                None => "all".into(),
                Some(h) if h.is_empty() => "none".into(),
                Some(h) => h.iter().map(i32::to_string).collect::<Vec<_>>().join(","),
            },
            when(Some(k.row.created_at)),
            when(k.row.last_used_at),
            k.row
                .revoked_at
                .map_or_else(|| "-".to_string(), |t| when(Some(t))),
            k.modules.join(","),
        ]);
    }
    let mut widths = [0usize; 8];
    for r in &rows {
        for (w, cell) in widths.iter_mut().zip(r) {
            *w = (*w).max(cell.chars().count());
        }
    }
    let mut out = String::new();
    for r in &rows {
        let line: Vec<String> = r
            .iter()
            .zip(widths)
            .map(|(cell, w)| format!("{cell:<w$}"))
            .collect();
        out.push_str(line.join("  ").trim_end());
        out.push('\n');
    }
    out
}

fn hotels_text(hotels: Option<&[i32]>) -> String {
    match hotels {
        None => "every hotel".into(),
        Some([]) => "no hotel".into(),
        Some(h) => format!(
            "hotel{} {}",
            if h.len() > 1 { "s" } else { "" },
            h.iter().map(i32::to_string).collect::<Vec<_>>().join(", ")
        ),
    }
}

/// Revokes the key named or with id `which` in every target; one line saying what was done.
pub async fn revoke(targets: &[Target], which: &str) -> Result<String, ManageError> {
    let pools = open(targets).await?;
    let (mut now, mut before) = (Vec::new(), Vec::new());
    let mut key = None;
    for (module, pool) in &pools {
        match store::revoke(pool, which).await.map_err(at(module))? {
            Revoked::Now(row) => {
                now.push(*module);
                key = Some(row);
            }
            Revoked::Before(row) => {
                before.push(*module);
                key = key.or(Some(row));
            }
            Revoked::NotFound => {}
        }
    }
    let Some(key) = key else {
        return Err(ManageError::NotFound(which.to_string()));
    };
    Ok(if now.is_empty() {
        format!(
            "key {} ({}) was revoked already, in the {} database{}",
            key.id,
            key.name,
            before.join(" and "),
            plural(&before)
        )
    } else {
        format!(
            "revoked key {} ({}) in the {} database{}; running processes refuse it within API_KEYS_REFRESH_MS",
            key.id,
            key.name,
            now.join(" and "),
            plural(&now)
        )
    })
}
