//! Hand-written SQL that each connection keeps prepared.
//!
//! `diesel::sql_query` marks itself unsafe to cache, so every call parses and plans its SQL
//! again and costs two round trips (prepare, then execute). The read paths that need SQL
//! diesel's DSL cannot say (`FILTER`, date arithmetic, `GROUP BY` an expression) build a
//! [`Statement`] instead: the same text with the same bind types is prepared once per
//! connection and reused, as diesel does for its DSL queries. Texts must come from a bounded
//! set (the caller's code, not user input), since each distinct one stays prepared.

use std::borrow::Cow;

use diesel::expression::AsExpression;
use diesel::pg::Pg;
use diesel::query_builder::{AstPass, Query, QueryFragment, QueryId};
use diesel::sql_types::Untyped;
use diesel::QueryResult;

/// SQL text and bind parameters, in order; placeholders (`$1`, …) are numbered by diesel.
#[derive(Default)]
pub struct Statement {
    parts: Vec<Box<dyn QueryFragment<Pg> + Send + Sync>>,
}

struct Text(Cow<'static, str>);

impl QueryFragment<Pg> for Text {
    fn walk_ast<'b>(&'b self, mut out: AstPass<'_, 'b, Pg>) -> QueryResult<()> {
        out.push_sql(&self.0);
        Ok(())
    }
}

impl Statement {
    pub fn new() -> Self {
        Self::default()
    }

    /// Appends SQL text.
    pub fn sql(mut self, text: impl Into<Cow<'static, str>>) -> Self {
        self.parts.push(Box::new(Text(text.into())));
        self
    }

    /// Appends a bind parameter of SQL type `ST` (its placeholder goes here).
    pub fn bind<ST, T>(mut self, value: T) -> Self
    where
        T: AsExpression<ST>,
        T::Expression: QueryFragment<Pg> + Send + Sync + 'static,
        ST: diesel::sql_types::SqlType + diesel::expression::TypedExpressionType,
    {
        self.parts.push(Box::new(value.as_expression()));
        self
    }
}

impl QueryFragment<Pg> for Statement {
    fn walk_ast<'b>(&'b self, mut out: AstPass<'_, 'b, Pg>) -> QueryResult<()> {
        for part in &self.parts {
            part.walk_ast(out.reborrow())?;
        }
        Ok(())
    }
}

impl QueryId for Statement {
    type QueryId = ();
    // Keyed by its SQL text and bind types in diesel's statement cache.
    const HAS_STATIC_QUERY_ID: bool = false;
}

// diesel-async runs anything that is a `Query`.
impl Query for Statement {
    type SqlType = Untyped;
}

#[cfg(test)]
mod tests {
    use super::*;
    use diesel::sql_types::{Date, Int4};

    #[test]
    fn placeholders_are_numbered_in_order_and_the_statement_is_cacheable() {
        let day = chrono::NaiveDate::from_ymd_opt(2024, 2, 29).unwrap_or_default();
        let s = Statement::new()
            .sql("SELECT 1 WHERE ")
            .bind::<Int4, _>(7)
            .sql(" = 7 AND ")
            .bind::<Date, _>(day)
            .sql(" > ")
            .bind::<Date, _>(day);
        let sql = diesel::debug_query::<Pg, _>(&s).to_string();
        assert!(
            sql.starts_with("SELECT 1 WHERE $1 = 7 AND $2 > $3"),
            "{sql}"
        );
        assert!(s.is_safe_to_cache_prepared(&Pg).unwrap_or(false));
        let plain = diesel::sql_query("SELECT 1");
        assert!(!plain.is_safe_to_cache_prepared(&Pg).unwrap_or(true));
    }
}
