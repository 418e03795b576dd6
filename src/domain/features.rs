//! Reading a layer through OGC API – Features: the query parameters of an items request,
//! and pages in id order with the cursor that leads to the next one.
//!
//! A page starts after the key of the last item of the previous one (never at an offset),
//! so a layer that changes while it is read is still read without a repeat or a gap among
//! the items that stay.

use super::validation::Invalid;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use std::collections::BTreeMap;

/// Items per page when `limit` is not given.
pub const DEFAULT_LIMIT: usize = 1_000;
/// The largest page; a larger `limit` is served as this.
pub const MAX_LIMIT: usize = 10_000;
/// The only coordinate reference system served (longitude, latitude on WGS84).
pub const CRS84: &str = "http://www.opengis.net/def/crs/OGC/1.3/CRS84";

/// The layers (collections) served.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Layer {
    Boxes,
    Regions,
}

impl Layer {
    pub const ALL: [Layer; 2] = [Layer::Boxes, Layer::Regions];

    /// The collection id, as in `/collections/{id}`.
    pub fn id(self) -> &'static str {
        match self {
            Self::Boxes => "boxes",
            Self::Regions => "regions",
        }
    }

    pub fn parse(id: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|l| l.id() == id)
    }

    pub fn title(self) -> &'static str {
        match self {
            Self::Boxes => "Boxes (CTO)",
            Self::Regions => "Regions",
        }
    }

    pub fn description(self) -> &'static str {
        match self {
            Self::Boxes => {
                "Fibre termination boxes with their splitters, port states and free ports"
            }
            Self::Regions => "Commercial regions of each project with their tags",
        }
    }
}

/// Where an item sits in a layer's order: by project, then id (box ids are unique across
/// projects, so boxes are in plain id order).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct ItemKey {
    pub project: String,
    pub id: String,
}

impl ItemKey {
    /// The opaque `cursor` of the page after this item. (Project ids never hold a `|`.)
    pub fn cursor(&self) -> String {
        URL_SAFE_NO_PAD.encode(format!("{}|{}", self.project, self.id))
    }

    pub fn from_cursor(cursor: &str) -> Option<Self> {
        let text = String::from_utf8(URL_SAFE_NO_PAD.decode(cursor).ok()?).ok()?;
        let (project, id) = text.split_once('|')?;
        Some(Self {
            project: project.to_owned(),
            id: id.to_owned(),
        })
    }
}

/// One page of items and, unless it is the last, the key to continue after.
#[derive(Debug, Clone, PartialEq)]
pub struct Page<T> {
    pub items: Vec<T>,
    pub next: Option<ItemKey>,
}

impl<T> Page<T> {
    /// A page from up to `limit + 1` items in order: the extra one only says there is more.
    pub fn cut(mut items: Vec<T>, limit: usize, key: impl Fn(&T) -> ItemKey) -> Self {
        let next = if items.len() > limit {
            items.truncate(limit);
            items.last().map(key)
        } else {
            None
        };
        Self { items, next }
    }
}

/// What an items request asks for.
#[derive(Debug, Clone, PartialEq)]
pub struct ItemsQuery {
    /// `[min_lon, min_lat, max_lon, max_lat]`; `min_lon > max_lon` crosses the antimeridian.
    pub bbox: Option<[f64; 4]>,
    pub limit: usize,
    /// The page starts after this item.
    pub after: Option<ItemKey>,
    /// `project=`: narrows the token's projects to these.
    pub projects: Option<Vec<String>>,
}

/// Parameters an items request may carry. `datetime` is taken and has no effect: no item
/// has a time. `crs`, `bbox-crs` may only name CRS84, `f` only JSON.
const ITEMS_PARAMS: [&str; 8] = [
    "bbox", "limit", "cursor", "project", "datetime", "crs", "bbox-crs", "f",
];

/// Parses the query string of an items request; every problem is named by its parameter.
pub fn parse_items_query(query: &str) -> Result<ItemsQuery, Invalid> {
    let mut invalid = Invalid::default();
    let params = single_params(query, &ITEMS_PARAMS, &mut invalid);
    let get = |name: &str| params.get(name).map(String::as_str);
    let bbox = get("bbox").and_then(|b| parse_bbox(b).map_err(|m| invalid.add("bbox", m)).ok());
    let limit = parse_limit(get("limit")).unwrap_or_else(|m| {
        invalid.add("limit", m);
        DEFAULT_LIMIT
    });
    let after = get("cursor").and_then(|c| {
        let key = ItemKey::from_cursor(c);
        if key.is_none() {
            invalid.add("cursor", "is not a cursor this service gave");
        }
        key
    });
    for name in ["crs", "bbox-crs"] {
        if get(name).is_some_and(|c| c != CRS84) {
            invalid.add(name, format!("must be {CRS84} (the only one served)"));
        }
    }
    if get("f").is_some_and(|f| !matches!(f, "json" | "geojson")) {
        invalid.add("f", "must be json or geojson");
    }
    let projects = get("project").map(|p| p.split(',').map(str::to_owned).collect());
    invalid.or_ok(ItemsQuery {
        bbox,
        limit,
        after,
        projects,
    })
}

/// The parameters of a query string, each given at most once and each one of `known`.
fn single_params(query: &str, known: &[&str], invalid: &mut Invalid) -> BTreeMap<String, String> {
    let mut params = BTreeMap::new();
    for (name, value) in form_urlencoded::parse(query.as_bytes()) {
        if !known.contains(&name.as_ref()) {
            invalid.add(name.as_ref(), "is not a parameter of this call");
        } else if params
            .insert(name.to_string(), value.into_owned())
            .is_some()
        {
            invalid.add(name.as_ref(), "is given more than once");
        }
    }
    params
}

/// Absent: the default; above the largest page: the largest page (as OGC asks).
fn parse_limit(text: Option<&str>) -> Result<usize, &'static str> {
    let Some(text) = text else {
        return Ok(DEFAULT_LIMIT);
    };
    let digits = text.trim();
    let negative = digits
        .strip_prefix('-')
        .is_some_and(|d| !d.is_empty() && d.bytes().all(|b| b.is_ascii_digit()));
    if negative {
        return Err("must be at least 1");
    }
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return Err("must be a whole number");
    }
    // Digits beyond any number are still a number above the largest page.
    match digits.parse::<u64>().map_or(u64::MAX, |n| n) {
        0 => Err("must be at least 1"),
        n => Ok(usize::try_from(n).map_or(MAX_LIMIT, |n| n.min(MAX_LIMIT))),
    }
}

/// `minLon,minLat,maxLon,maxLat` in degrees; `minLon > maxLon` crosses the antimeridian.
pub fn parse_bbox(text: &str) -> Result<[f64; 4], &'static str> {
    let bad = "must be minLon,minLat,maxLon,maxLat in degrees";
    let parts: Vec<f64> = text
        .split(',')
        .map(|p| p.trim().parse::<f64>())
        .collect::<Result<_, _>>()
        .map_err(|_| bad)?;
    let [min_lon, min_lat, max_lon, max_lat] = <[f64; 4]>::try_from(parts).map_err(|_| bad)?;
    let lon_ok = |v: f64| (-180.0..=180.0).contains(&v);
    let lat_ok = |v: f64| (-90.0..=90.0).contains(&v);
    if !(lon_ok(min_lon) && lon_ok(max_lon) && lat_ok(min_lat) && lat_ok(max_lat))
        || min_lat > max_lat
    {
        return Err(bad);
    }
    Ok([min_lon, min_lat, max_lon, max_lat])
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(id: &str) -> ItemKey {
        ItemKey {
            project: "p1".into(),
            id: id.into(),
        }
    }

    fn fields(query: &str) -> Vec<String> {
        parse_items_query(query)
            .unwrap_err()
            .0
            .into_iter()
            .map(|e| e.field)
            .collect()
    }

    #[test]
    fn a_page_cut_from_one_item_too_many_continues_after_its_last() {
        let page = Page::cut(vec!["a", "b", "c"], 2, |s| key(s));
        assert_eq!(page.items, ["a", "b"]);
        assert_eq!(page.next, Some(key("b")));
    }

    #[test]
    fn the_last_page_has_no_next() {
        for items in [vec!["a", "b"], vec!["a"], vec![]] {
            assert_eq!(Page::cut(items, 2, |s| key(s)).next, None);
        }
    }

    #[test]
    fn a_cursor_gives_back_its_key_and_nothing_else_passes_for_one() {
        let k = ItemKey {
            project: "sp-centro".into(),
            id: "CTO|1 ç".into(),
        };
        assert_eq!(ItemKey::from_cursor(&k.cursor()), Some(k));
        for bad in ["", "!!", &URL_SAFE_NO_PAD.encode("no bar")] {
            assert_eq!(ItemKey::from_cursor(bad), None, "{bad}");
        }
    }

    #[test]
    fn limit_defaults_is_capped_and_must_be_positive() {
        assert_eq!(parse_items_query("").unwrap().limit, DEFAULT_LIMIT);
        assert_eq!(parse_items_query("limit=7").unwrap().limit, 7);
        assert_eq!(parse_items_query("limit=50000").unwrap().limit, MAX_LIMIT);
        assert_eq!(
            parse_items_query("limit=99999999999999999999")
                .unwrap()
                .limit,
            MAX_LIMIT
        );
        for bad in ["limit=0", "limit=-3", "limit=x", "limit=1.5", "limit="] {
            assert_eq!(fields(bad), ["limit"], "{bad}");
        }
    }

    #[test]
    fn every_bad_parameter_is_named() {
        assert_eq!(
            fields("limit=1&limit=2&bbox=1,2,3&colour=red&cursor=%21&crs=EPSG:3857&f=xml"),
            ["limit", "colour", "bbox", "cursor", "crs", "f"]
        );
    }

    #[test]
    fn the_parameters_of_a_page_are_read() {
        let after = key("B-9");
        let q = parse_items_query(&format!(
            "bbox=-47,-24,-46,-23&limit=5&project=p1,p2&cursor={}&datetime=2020-01-01T00:00:00Z&crs={CRS84}&f=json",
            after.cursor()
        ))
        .unwrap();
        assert_eq!(
            q,
            ItemsQuery {
                bbox: Some([-47.0, -24.0, -46.0, -23.0]),
                limit: 5,
                after: Some(after),
                projects: Some(vec!["p1".into(), "p2".into()]),
            }
        );
    }

    #[test]
    fn a_bbox_is_four_degrees_in_range_south_before_north() {
        assert_eq!(
            parse_bbox("170,-10,-170,10"),
            Ok([170.0, -10.0, -170.0, 10.0])
        );
        for bad in [
            "1,2,3",
            "a,b,c,d",
            "0,-91,1,1",
            "-46,-23,-47,-24",
            "0,0,181,1",
        ] {
            assert!(parse_bbox(bad).is_err(), "{bad}");
        }
    }
}
