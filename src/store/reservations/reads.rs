//! Reservations and free ports as callers and the index read them.

use super::*;

impl Store {
    /// A reservation by id, or by code when `code` is true.
    pub async fn reservation(&self, key: &str, code: bool) -> Result<Reservation, StoreError> {
        let sql = format!(
            "SELECT {COLUMNS} FROM reservations WHERE {} = $1",
            if code { "code" } else { "id" }
        );
        let row: ReservationRow = on_pool!(self, read, |p| {
            sqlx::query_as(sqlx::AssertSqlSafe(sql))
                .bind(key.to_owned())
                .fetch_optional(p)
                .await
        })?
        .ok_or(StoreError::NotFound)?;
        row.into_reservation()
    }

    /// Reservations matching `filter` in projects `scope` allows, newest first.
    pub async fn reservations(
        &self,
        filter: &ReservationFilter,
        scope: &ProjectScope,
        limit: usize,
    ) -> Result<Vec<Reservation>, StoreError> {
        if let ProjectScope::Only(set) = scope
            && set.is_empty()
        {
            return Ok(Vec::new());
        }
        let rows: Vec<ReservationRow> = on_pool!(self, read, |p| {
            let mut qb =
                QueryBuilder::new(format!("SELECT {COLUMNS} FROM reservations WHERE 1 = 1"));
            if let Some(s) = filter.status {
                qb.push(" AND status = ").push_bind(s.as_str());
            }
            for (column, value) in [
                ("project", &filter.project),
                ("box_id", &filter.box_id),
                ("code", &filter.code),
                ("external_ref", &filter.external_ref),
                ("created_by", &filter.created_by),
            ] {
                if let Some(v) = value {
                    qb.push(format!(" AND {column} = ")).push_bind(v.clone());
                }
            }
            if let Some(t) = filter.created_from {
                qb.push(" AND created_at >= ")
                    .push_bind(t.timestamp_micros());
            }
            if let Some(t) = filter.created_to {
                qb.push(" AND created_at <= ")
                    .push_bind(t.timestamp_micros());
            }
            match filter.inventory_confirmed {
                Some(true) => qb.push(" AND inventory_confirmed_at IS NOT NULL"),
                Some(false) => qb.push(" AND inventory_confirmed_at IS NULL"),
                None => &mut qb,
            };
            push_project_scope(&mut qb, scope);
            if let Some((at, id)) = &filter.after {
                qb.push(" AND (created_at < ").push_bind(*at);
                qb.push(" OR (created_at = ")
                    .push_bind(*at)
                    .push(" AND id < ")
                    .push_bind(id.clone())
                    .push("))");
            }
            qb.push(" ORDER BY created_at DESC, id DESC LIMIT ")
                .push_bind(limit as i64);
            qb.build_query_as().fetch_all(p).await
        })?;
        rows.into_iter()
            .map(ReservationRow::into_reservation)
            .collect()
    }

    /// The free ports of these attendance splitters now, with their boxes and projects
    /// (unknown ids are left out).
    pub async fn splitters_free(
        &self,
        splitter_ids: &[String],
    ) -> Result<Vec<(SplitterRef, u32)>, StoreError> {
        let rows = on_pool!(self, read, |p| {
            let mut qb = in_list(
                &format!(
                    "SELECT b.project, s.box_id, s.id, s.ports, s.used, \
                       (SELECT COUNT(*) FROM reservations r WHERE r.splitter_id = s.id AND {}) \
                     FROM splitters s JOIN boxes b ON b.id = s.box_id WHERE s.kind = 'attendance' AND s.id IN",
                    occupying("r.")
                ),
                splitter_ids,
            );
            qb.build()
                .fetch_all(p)
                .await?
                .into_iter()
                .map(|r| -> Result<_, sqlx::Error> {
                    let free = free_ports(
                        u32::try_from(r.try_get::<i64, _>(3)?).unwrap_or(0),
                        u32::try_from(r.try_get::<i64, _>(4)?).unwrap_or(0),
                        u32::try_from(r.try_get::<i64, _>(5)?).unwrap_or(0),
                    );
                    let at = SplitterRef {
                        project: r.try_get(0)?,
                        box_id: r.try_get(1)?,
                        splitter_id: r.try_get(2)?,
                    };
                    Ok((at, free))
                })
                .collect::<Result<Vec<_>, _>>()
        })?;
        Ok(rows)
    }
}
