//! Reading SensorThings entities with bounded cost: pages, `$expand` and the limits that keep one request from
//! taking the server down.
//!
//! - A page holds at most [`MAX_TOP`] entities, an expanded collection at most [`MAX_EXPAND_TOP`] per parent;
//!   more is reached through `@iot.nextLink` (server-driven paging, as STA 1.1 allows inside expansions too).
//! - A whole response holds at most [`MAX_ENTITIES`] entities, counting every place an entity is rendered: when
//!   an expansion would pass the budget, its collections get fewer entities (down to none) and a nextLink.
//! - Each level of `$expand` is one query for all the parents (a `lateral` join over their ids, so that
//!   `$top`, `$skip` and `$orderby` apply per parent and readings are read by index, never all of them).
//! - Every query runs in a read-only transaction with a [`STATEMENT_TIMEOUT_MS`] statement timeout, and a
//!   PostgreSQL error caused by the user's expression (a data exception, a bad geometry) becomes
//!   [`Error::InvalidQuery`].

use std::collections::HashMap;
use std::pin::Pin;
use std::sync::Arc;

use serde_json::{Map, Value};
use sqlx::postgres::PgArguments;
use sqlx::query::QueryAs;
use sqlx::{PgConnection, PgPool, Postgres, Transaction};

use super::filter::Expr;
use super::model::EntitySet;
use super::query::{self, Bind, Expand, MAX_SKIP, QueryOptions};
use crate::{Error, Result};

/// `$top` when none is given, at the top and inside expansions.
pub const DEFAULT_TOP: u64 = 100;

/// The most entities of one page (a larger `$top` is served in pages of this size).
pub const MAX_TOP: u64 = 1_000;

/// The most entities of one expanded collection per parent.
pub const MAX_EXPAND_TOP: u64 = 100;

/// The most entities of one response, expanded ones included.
pub const MAX_ENTITIES: usize = 10_000;

/// The longest a query of the read face may run, in milliseconds.
pub const STATEMENT_TIMEOUT_MS: u32 = 10_000;

/// What selects entities besides `$filter`.
#[derive(Debug, Clone, PartialEq)]
pub enum Scope {
    /// The whole set.
    All,
    /// One entity by id.
    Id(i64),
    /// The targets of `nav` from the parent entity `parent_id` of `parent`.
    Related { parent: EntitySet, nav: String, parent_id: i64 },
    /// One of the targets of `nav` from `parent_id`, by id (`Things(1)/Datastreams(12)`).
    RelatedId { parent: EntitySet, nav: String, parent_id: i64, id: i64 },
}

/// An entity with its expanded relations.
#[derive(Debug, Clone, PartialEq)]
pub struct Entity {
    pub set: EntitySet,
    pub id: i64,
    /// Its properties: the text of a JSON object as PostgreSQL wrote it, passed through to the response as is.
    pub fields: String,
    pub expanded: Vec<Expansion>,
}

/// A relation inlined by `$expand`.
#[derive(Debug, Clone, PartialEq)]
pub struct Expansion {
    /// The navigation property, e.g. `Datastreams`.
    pub nav: String,
    /// The options it was read with (shared by every parent): `$select` for its entities, the rest for links.
    pub options: Arc<QueryOptions>,
    pub value: Expanded,
}

/// The entities of an [`Expansion`].
#[derive(Debug, Clone, PartialEq)]
pub enum Expanded {
    One(Option<Box<Entity>>),
    Many(Page),
}

/// One page of a collection.
#[derive(Debug, Clone, PartialEq)]
pub struct Page {
    pub items: Vec<Entity>,
    /// The next page, when more entities follow this one.
    pub next: Option<Next>,
    /// `@iot.count`, when asked for.
    pub count: Option<i64>,
}

/// Where the next page starts: the `$top` and `$skip` of its link.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Next {
    pub top: u64,
    pub skip: u64,
}

/// A boxed `Send` future: sqlx's executors on `&mut PgConnection` otherwise trip the `Send` check of axum
/// handlers ("implementation of `Executor` is not general enough", rust-lang/rust#102211).
pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// A read-only transaction whose statements time out after [`STATEMENT_TIMEOUT_MS`]: what the reads run in.
pub fn begin(pool: &PgPool) -> BoxFuture<'_, Result<Transaction<'static, Postgres>>> {
    Box::pin(async move {
        // One round trip: the settings travel with the `begin`.
        let begin = format!("begin read only; set local statement_timeout = {STATEMENT_TIMEOUT_MS}");
        Ok(pool.begin_with(begin).await?)
    })
}

/// Reads a page of `set` within `scope`, honouring `$filter`, `$orderby`, `$top`, `$skip`, `$count` and `$expand`.
pub fn read<'a>(
    conn: &'a mut PgConnection,
    set: EntitySet,
    scope: &'a Scope,
    opts: &'a QueryOptions,
) -> BoxFuture<'a, Result<Page>> {
    Box::pin(async move {
        let geometry = mentions_geometry(opts);
        read_page(conn, set, scope, opts).await.map_err(|e| user_caused(e, geometry))
    })
}

/// Reads one entity of `set` within `scope` (`None` when there is none).
pub async fn read_one(
    conn: &mut PgConnection,
    set: EntitySet,
    scope: &Scope,
    opts: &QueryOptions,
) -> Result<Option<Entity>> {
    let one = QueryOptions { top: Some(1), skip: None, count: None, ..opts.clone() };
    Ok(read(conn, set, scope, &one).await?.items.into_iter().next())
}

async fn read_page(
    conn: &mut PgConnection,
    set: EntitySet,
    scope: &Scope,
    opts: &QueryOptions,
) -> Result<Page> {
    let top = opts.top.unwrap_or(DEFAULT_TOP).min(MAX_TOP);
    let skip = opts.skip.unwrap_or(0).min(MAX_SKIP);
    let mut binds = Vec::new();
    let condition = where_clause(set, scope, opts.filter.as_ref(), &mut binds)?;
    let rows: Vec<(i64, String)> = if top == 0 {
        Vec::new()
    } else {
        let sql = format!(
            "select {id} as id, ({json})::text as e from {from} where {condition} order by {order} limit {limit} offset {skip}",
            id = set.id_sql(),
            json = set.json_sql(),
            from = set.source_sql(),
            order = order_sql(set, opts)?,
            limit = top + 1,
        );
        bind_all(sqlx::query_as(&sql), &binds).fetch_all(&mut *conn).await?
    };
    let more = rows.len() as u64 > top;
    let count = if opts.count == Some(true) {
        let sql = format!("select count(*)::bigint from {} where {condition}", set.source_sql());
        let (n,): (i64,) = bind_all(sqlx::query_as(&sql), &binds).fetch_one(&mut *conn).await?;
        Some(n)
    } else {
        None
    };
    let mut items: Vec<Entity> =
        rows.into_iter().take(top as usize).map(|(id, e)| entity(set, id, e)).collect();
    let mut budget = MAX_ENTITIES.saturating_sub(items.len());
    let weights = vec![1; items.len()];
    expand(conn, &mut items, &weights, &opts.expand, &mut budget).await?;
    let next = (more && top > 0).then_some(Next { top, skip: skip + top });
    Ok(Page { items, next, count })
}

fn entity(set: EntitySet, id: i64, fields: String) -> Entity {
    Entity { set, id, fields, expanded: Vec::new() }
}

impl Entity {
    /// Its properties parsed (for `$select` and tests; the response passes [`Entity::fields`] through).
    pub fn field_map(&self) -> Map<String, Value> {
        match serde_json::from_str(&self.fields) {
            Ok(Value::Object(map)) => map,
            _ => Map::new(),
        }
    }
}

/// The `order by` list: the user's `$orderby`, then the set's own order so that pages are stable.
fn order_sql(set: EntitySet, opts: &QueryOptions) -> Result<String> {
    let user = query::orderby_sql(&opts.orderby, &set).map_err(|e| Error::InvalidQuery(e.to_string()))?;
    Ok(if user.is_empty() {
        set.default_order().to_owned()
    } else {
        format!("{user}, {}", set.default_order())
    })
}

/// The `where` clause of a scope and filter; binds are appended to `binds`.
fn where_clause(
    set: EntitySet,
    scope: &Scope,
    filter: Option<&Expr>,
    binds: &mut Vec<Bind>,
) -> Result<String> {
    let mut conditions = vec![set.base_condition().to_owned()];
    let related = |parent: EntitySet, nav: &str, parent_id: i64, binds: &mut Vec<Bind>| {
        binds.push(Bind::Integer(parent_id));
        let p = format!("${}::bigint", binds.len());
        parent
            .relation_condition(nav, &p)
            .ok_or_else(|| Error::InvalidQuery(format!("{} has no navigation property {nav}", parent.name())))
    };
    match scope {
        Scope::All => {}
        Scope::Id(id) => conditions.push(set.id_condition(*id, binds)),
        Scope::Related { parent, nav, parent_id } => {
            conditions.push(related(*parent, nav, *parent_id, binds)?)
        }
        Scope::RelatedId { parent, nav, parent_id, id } => {
            conditions.push(related(*parent, nav, *parent_id, binds)?);
            conditions.push(set.id_condition(*id, binds));
        }
    }
    conditions.extend(filter_sql(set, filter, binds)?);
    Ok(conditions.join(" and "))
}

fn filter_sql(set: EntitySet, filter: Option<&Expr>, binds: &mut Vec<Bind>) -> Result<Option<String>> {
    let Some(expr) = filter else { return Ok(None) };
    let (sql, more) =
        query::to_sql(expr, &set, binds.len() + 1).map_err(|e| Error::InvalidQuery(e.to_string()))?;
    binds.extend(more);
    Ok(Some(sql))
}

/// Inlines every `items` relation of `parents` (all of one set), one query per item and level.
///
/// `weights[i]` is how many times `parents[i]` is rendered in the response (an entity reached through a
/// to-one relation shared by several parents appears under each); entities cost their weight in `budget`.
fn expand<'a>(
    conn: &'a mut PgConnection,
    parents: &'a mut [Entity],
    weights: &'a [usize],
    items: &'a [Expand],
    budget: &'a mut usize,
) -> BoxFuture<'a, Result<()>> {
    Box::pin(async move {
        let Some(set) = parents.first().map(|p| p.set) else { return Ok(()) };
        for item in items {
            let Some(nav) = item.path.first() else { continue };
            let (target, many) = set.navigate(nav).ok_or_else(|| {
                Error::InvalidQuery(format!("{} has no navigation property {nav}", set.name()))
            })?;
            let options = Arc::new(nested_options(item));
            // Each distinct parent once, weighted by how often it is rendered.
            let mut weight: HashMap<i64, usize> = HashMap::new();
            let mut ids = Vec::new();
            for (parent, w) in parents.iter().zip(weights) {
                *weight.entry(parent.id).or_insert_with(|| {
                    ids.push(parent.id);
                    0
                }) += w;
            }
            let total: usize = weight.values().sum();
            let (per_parent, skip) = if many {
                let top = options.top.unwrap_or(DEFAULT_TOP).min(MAX_EXPAND_TOP);
                (top.min((*budget / total.max(1)) as u64), options.skip.unwrap_or(0).min(MAX_SKIP))
            } else if *budget >= total {
                (1, 0)
            } else {
                continue; // Beyond the budget: the navigationLink leads there.
            };
            let related = Related { parent: set, nav, target, ids: &ids };
            let rows = related.rows(conn, &options, per_parent, skip).await?;
            let counts = if many && options.count == Some(true) {
                related.counts(conn, &options).await?
            } else {
                HashMap::new()
            };
            // The children of all parents in one list (for the next level), with their owner.
            // The parents with more targets than shown (a set: it is asked once per parent).
            let mut more = std::collections::HashSet::new();
            let (mut children, mut owners, mut child_weights) = (Vec::new(), Vec::new(), Vec::new());
            for (owner, group) in rows {
                let w = weight.get(&owner).copied().unwrap_or(0);
                if group.len() as u64 > per_parent {
                    more.insert(owner);
                }
                for (id, e) in group.into_iter().take(per_parent as usize) {
                    children.push(entity(target, id, e.unwrap_or_default()));
                    owners.push(owner);
                    child_weights.push(w);
                    *budget = budget.saturating_sub(w);
                }
            }
            expand(conn, &mut children, &child_weights, &options.expand, budget).await?;
            let mut by_owner: HashMap<i64, Vec<Entity>> = HashMap::new();
            for (owner, child) in owners.into_iter().zip(children) {
                by_owner.entry(owner).or_default().push(child);
            }
            let mut left: HashMap<i64, usize> = HashMap::new();
            for parent in parents.iter() {
                *left.entry(parent.id).or_default() += 1;
            }
            for parent in parents.iter_mut() {
                let remaining = left.entry(parent.id).or_default();
                *remaining -= 1;
                // The last parent with this id takes the entities, the others get copies.
                let found = if *remaining == 0 {
                    by_owner.remove(&parent.id).unwrap_or_default()
                } else {
                    by_owner.get(&parent.id).cloned().unwrap_or_default()
                };
                let value = if many {
                    let top = options.top.unwrap_or(DEFAULT_TOP).min(MAX_EXPAND_TOP);
                    let next = (more.contains(&parent.id) && top > 0)
                        .then_some(Next { top, skip: skip + found.len() as u64 });
                    Expanded::Many(Page { count: counts.get(&parent.id).copied(), items: found, next })
                } else {
                    Expanded::One(found.into_iter().next().map(Box::new))
                };
                parent.expanded.push(Expansion { nav: nav.clone(), options: Arc::clone(&options), value });
            }
        }
        Ok(())
    })
}

/// The options of the entities an `$expand` item inlines: `A/B(o)` expands A with `B(o)` inside it.
fn nested_options(item: &Expand) -> QueryOptions {
    if item.path.len() <= 1 {
        return item.options.clone();
    }
    let inner = Expand { path: item.path[1..].to_vec(), options: item.options.clone() };
    QueryOptions {
        given: vec![("$expand".into(), inner.to_text())],
        expand: vec![inner],
        ..QueryOptions::default()
    }
}

/// The targets of one navigation from many parents.
struct Related<'a> {
    parent: EntitySet,
    nav: &'a str,
    target: EntitySet,
    ids: &'a [i64],
}

type Rows = Vec<(i64, Vec<(i64, Option<String>)>)>;

impl Related<'_> {
    /// The `where` clause for the parent `p.pid`, and the binds after `$1` (the parent ids).
    fn condition(&self, options: &QueryOptions) -> Result<(String, Vec<Bind>)> {
        let relation = self.parent.relation_condition(self.nav, "p.pid").ok_or_else(|| {
            Error::InvalidQuery(format!("{} has no navigation property {}", self.parent.name(), self.nav))
        })?;
        // Placeholders of the filter start at $2; `binds` stands in for $1 while numbering.
        let mut binds = vec![Bind::Integer(0)];
        let mut conditions = vec![relation, self.target.base_condition().to_owned()];
        conditions.extend(filter_sql(self.target, options.filter.as_ref(), &mut binds)?);
        binds.remove(0);
        Ok((conditions.join(" and "), binds))
    }

    /// Up to `per_parent + 1` targets of each parent after `skip` (one more tells whether more follow), in the
    /// parents' order; properties only for the first `per_parent`.
    async fn rows(
        &self,
        conn: &mut PgConnection,
        options: &QueryOptions,
        per_parent: u64,
        skip: u64,
    ) -> Result<Rows> {
        let (condition, binds) = self.condition(options)?;
        let json = if per_parent == 0 {
            "null::text".to_owned()
        } else {
            format!("({})::text", self.target.json_sql())
        };
        let order = order_sql(self.target, options)?;
        let (id, from) = (self.target.id_sql(), self.target.source_sql());
        let sql = if self.parent.few_per_parent(self.nav) {
            // One join for all parents, numbered per parent.
            format!(
                "select x.pid, x.id, x.e from (select p.pid, p.n, {id} as id, {json} as e, \
                 row_number() over (partition by p.n order by {order}) as rn \
                 from unnest($1::bigint[]) with ordinality as p (pid, n), {from} where {condition}) x \
                 where x.rn > {skip} and x.rn <= {end} order by x.n, x.rn",
                end = skip + per_parent + 1,
            )
        } else {
            // Parent by parent, so that `limit` stops the (index) scan of each.
            format!(
                "select p.pid, x.id, x.e from unnest($1::bigint[]) with ordinality as p (pid, n) \
                 cross join lateral (select {id} as id, {json} as e, row_number() over (order by {order}) as rn \
                 from {from} where {condition} order by {order} limit {limit} offset {skip}) x \
                 order by p.n, x.rn",
                limit = per_parent + 1,
            )
        };
        let query = sqlx::query_as(&sql).bind(self.ids);
        let flat: Vec<(i64, i64, Option<String>)> = bind_all(query, &binds).fetch_all(&mut *conn).await?;
        let mut rows: Rows = Vec::new();
        for (pid, id, e) in flat {
            match rows.last_mut() {
                Some((last, group)) if *last == pid => group.push((id, e)),
                _ => rows.push((pid, vec![(id, e)])),
            }
        }
        Ok(rows)
    }

    /// `@iot.count` of each parent's targets.
    async fn counts(&self, conn: &mut PgConnection, options: &QueryOptions) -> Result<HashMap<i64, i64>> {
        let (condition, binds) = self.condition(options)?;
        let sql = format!(
            "select p.pid, (select count(*) from {from} where {condition})::bigint \
             from unnest($1::bigint[]) as p (pid)",
            from = self.target.source_sql(),
        );
        let query = sqlx::query_as(&sql).bind(self.ids);
        let counts: Vec<(i64, i64)> = bind_all(query, &binds).fetch_all(&mut *conn).await?;
        Ok(counts.into_iter().collect())
    }
}

fn bind_all<'q, O>(
    mut q: QueryAs<'q, Postgres, O, PgArguments>,
    binds: &'q [Bind],
) -> QueryAs<'q, Postgres, O, PgArguments> {
    for b in binds {
        q = match b {
            Bind::Integer(v) => q.bind(*v),
            Bind::Number(v) => q.bind(*v),
            Bind::Text(v) | Bind::Wkt(v) => q.bind(v.as_str()),
            Bind::Time(v) => q.bind(*v),
            Bind::Bool(v) => q.bind(*v),
        };
    }
    q
}

/// Whether any `$filter` of the request, expansions included, involves geometries.
fn mentions_geometry(opts: &QueryOptions) -> bool {
    opts.filter.as_ref().is_some_and(Expr::mentions_geometry)
        || opts.expand.iter().any(|e| mentions_geometry(&e.options))
}

/// A database error the user's expression caused, as [`Error::InvalidQuery`]: data exceptions (SQLSTATE class
/// 22: out of range, division by zero, invalid text), a statement too complex (54001) and, when the expression
/// involves geometries, PostGIS's errors on them (XX000). Anything else stays a database error.
fn user_caused(error: Error, geometry: bool) -> Error {
    if let Error::Database(sqlx::Error::Database(db)) = &error {
        let code = db.code().unwrap_or_default();
        if code.starts_with("22") || code == "54001" || (code == "XX000" && geometry) {
            return Error::InvalidQuery(format!("the query cannot be evaluated: {}", db.message()));
        }
    }
    error
}
