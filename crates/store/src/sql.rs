//! Hand-written SQL that diesel still caches as a prepared statement.
//!
//! diesel marks `sql_query` and `dsl::sql` unsafe to cache, so each use of
//! them costs an extra round trip to prepare the statement again (on SQLite:
//! parsing it again). [`Statement`] keeps a fixed SQL text instead: diesel
//! then prepares it once per connection (keyed by the text) and reuses it.

use std::marker::PhantomData;

use diesel::QueryResult;
use diesel::backend::Backend;
use diesel::expression::AsExpression;
use diesel::query_builder::{AstPass, Query, QueryFragment, QueryId};
use diesel::sql_types::SqlType;

/// One bind value of a [`Statement`].
type Bind<DB> = Box<dyn QueryFragment<DB> + Send + Sync>;

/// A fixed SQL text with `$1`, `$2`, … placeholders and their values;
/// `ST` is the SQL type of a result row (`()` for statements run with
/// `execute`). A placeholder may appear several times. The text must not
/// contain `$` anywhere else (in string literals or comments).
pub(crate) struct Statement<ST, DB = diesel::pg::Pg> {
    sql: &'static str,
    binds: Vec<Bind<DB>>,
    row: PhantomData<fn() -> ST>,
}

impl<ST, DB: Backend> Statement<ST, DB> {
    /// The statement `sql`, without values yet.
    pub(crate) fn new(sql: &'static str) -> Statement<ST, DB> {
        Statement {
            sql,
            binds: Vec::new(),
            row: PhantomData,
        }
    }

    /// Adds the value of the next placeholder (`$1` first), as SQL type `T`.
    pub(crate) fn bind<T, V>(mut self, value: V) -> Statement<ST, DB>
    where
        V: AsExpression<T>,
        V::Expression: QueryFragment<DB> + Send + Sync + 'static,
        T: SqlType + diesel::sql_types::SingleValue,
    {
        self.binds.push(Box::new(value.as_expression()));
        self
    }
}

impl<ST, DB: Backend> QueryFragment<DB> for Statement<ST, DB> {
    fn walk_ast<'b>(&'b self, mut out: AstPass<'_, 'b, DB>) -> QueryResult<()> {
        // Each `$n` becomes its value's bind (numbered afresh by diesel,
        // which repeats a value used twice); the rest is copied as is.
        let mut rest = self.sql;
        while let Some(dollar) = rest.find('$') {
            out.push_sql(&rest[..dollar]);
            let digits = rest[dollar + 1..]
                .find(|c: char| !c.is_ascii_digit())
                .map_or(rest.len() - dollar - 1, |end| end);
            let number: usize = rest[dollar + 1..dollar + 1 + digits]
                .parse()
                .map_err(|_| unbound(self.sql))?;
            let bind = number
                .checked_sub(1)
                .and_then(|i| self.binds.get(i))
                .ok_or_else(|| unbound(self.sql))?;
            bind.walk_ast(out.reborrow())?;
            rest = &rest[dollar + 1 + digits..];
        }
        out.push_sql(rest);
        Ok(())
    }
}

/// A placeholder without a value: a bug in this crate.
fn unbound(sql: &str) -> diesel::result::Error {
    diesel::result::Error::QueryBuilderError(
        format!("a placeholder of this statement has no value: {sql}").into(),
    )
}

impl<ST, DB> QueryId for Statement<ST, DB> {
    type QueryId = ();
    // No static id: diesel keys its statement cache by the SQL text.
    const HAS_STATIC_QUERY_ID: bool = false;
}

impl<ST: SqlType, DB> Query for Statement<ST, DB> {
    type SqlType = ST;
}

// Gives the statement diesel's (and diesel-async's) `execute`/`load`.
impl<ST, DB> diesel::query_dsl::RunQueryDslSupport for Statement<ST, DB> {}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use diesel::pg::Pg;
    use diesel::sql_types::{BigInt, Text};

    use super::*;

    fn sql<T: QueryFragment<Pg>>(query: &T) -> String {
        diesel::debug_query::<Pg, _>(query).to_string()
    }

    #[test]
    fn placeholders_take_their_values_in_order_and_may_repeat() {
        let query = Statement::<(), Pg>::new("SELECT $2, $1 || 'x', $2 FROM t")
            .bind::<Text, _>("a".to_owned())
            .bind::<BigInt, _>(7_i64);
        assert_eq!(
            sql(&query),
            "SELECT $1, $2 || 'x', $3 FROM t -- binds: [7, \"a\", 7]"
        );
        assert!(query.is_safe_to_cache_prepared(&Pg).unwrap());
    }

    #[test]
    fn a_placeholder_without_a_value_is_an_error() {
        for text in ["SELECT $3", "SELECT $0", "SELECT $"] {
            let query = Statement::<(), Pg>::new(text).bind::<BigInt, _>(1_i64);
            let mut builder = diesel::pg::PgQueryBuilder::default();
            assert!(query.to_sql(&mut builder, &Pg).is_err(), "{text}");
        }
    }
}
