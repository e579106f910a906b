//! The event: its type, the one set of validation rules that `POST /events`, the CSV loader and
//! the queue workers all share, and its JSON form.

use std::borrow::Cow;
use std::fmt;

use chrono::{DateTime, Datelike, NaiveDate, NaiveDateTime, SecondsFormat, Timelike, Utc};
use serde::de::{self, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};
use serde::{Deserialize, Serialize, Serializer};
use utoipa::ToSchema;
use uuid::Uuid;

/// The largest id the service takes or hands out: 2^53 − 1, the largest integer a JavaScript
/// client (a browser, Swagger UI, Node) reads exactly from a JSON number. Above it, ids come back
/// rounded (`4611686018427387905` reads as `4611686018427388000`) and name another event.
pub const MAX_ID: i64 = (1 << 53) - 1;

/// Ids from this value (2^52) to [`MAX_ID`] are assigned by the service to events posted
/// without one; ids that come from hotel systems (CSV exports, the queue, `POST /events` with an
/// id) must lie below it, so the two can never collide. Databases made before this range was
/// chosen may hold ids from 2^62 that the service assigned then: they stay as they are
/// (renumbering would change ids clients were given), and are documented as such.
pub const ASSIGNED_ID_FLOOR: i64 = 1 << 52;

/// Dates outside these years are almost certainly typos; they are also the dashboard's range.
pub const MIN_YEAR: i32 = 1900;
pub const MAX_YEAR: i32 = 2100;

pub const STATUS_BOOKING: i16 = 1;
pub const STATUS_CANCELLATION: i16 = 2;

/// A stored (or storable) booking event: one room-night of one reservation.
#[derive(
    Debug,
    Clone,
    PartialEq,
    Eq,
    Serialize,
    ToSchema,
    diesel::Queryable,
    diesel::Selectable,
    diesel::QueryableByName,
    diesel::Insertable,
)]
#[diesel(table_name = super::schema::events, check_for_backend(diesel::pg::Pg))]
#[schema(example = json!({
    "id": 31000001,
    "hotel_id": 4101,
    "event_timestamp": "2017-08-30T11:20:00Z",
    "status": 1,
    "room_reservation_id": "7d3c41a2-5b9e-4f08-a1c6-2e90b4d7f513",
    "night_of_stay": "2017-09-14"
}))]
pub struct Event {
    /// The event's identity, at most 2^53 − 1 (9007199254740991). Ids from 2^52
    /// (4503599627370496) up are assigned by the service.
    #[schema(minimum = 1, maximum = 9007199254740991.0, example = 31000001)]
    pub id: i64,
    #[schema(minimum = 1, example = 4101)]
    pub hotel_id: i32,
    /// When the hotel system emitted the event, RFC 3339 in UTC.
    #[serde(serialize_with = "serialize_timestamp")]
    #[schema(value_type = String, format = DateTime, example = "2017-08-30T11:20:00Z")]
    pub event_timestamp: DateTime<Utc>,
    /// 1 = booking, 2 = cancellation.
    #[schema(minimum = 1, maximum = 2, example = 1)]
    pub status: i16,
    /// The reservation this room-night belongs to (lower-case UUID).
    #[schema(example = "7d3c41a2-5b9e-4f08-a1c6-2e90b4d7f513")]
    pub room_reservation_id: Uuid,
    /// The night the room is booked for.
    #[schema(value_type = String, format = Date, example = "2017-09-14")]
    pub night_of_stay: NaiveDate,
}

fn serialize_timestamp<S: Serializer>(ts: &DateTime<Utc>, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(&format_timestamp(ts))
}

/// `2022-06-24T13:00:56Z`; fractional seconds only when there are some.
pub fn format_timestamp(ts: &DateTime<Utc>) -> String {
    ts.to_rfc3339_opts(SecondsFormat::AutoSi, true)
}

/// An event as it arrives, before validation. `id` is `None` only for `POST /events` without one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewEvent {
    pub id: Option<i64>,
    pub hotel_id: i32,
    pub event_timestamp: DateTime<Utc>,
    pub status: i16,
    pub room_reservation_id: Uuid,
    pub night_of_stay: NaiveDate,
}

impl NewEvent {
    pub fn with_id(self, id: i64) -> Event {
        Event {
            id,
            hotel_id: self.hotel_id,
            event_timestamp: self.event_timestamp,
            status: self.status,
            room_reservation_id: self.room_reservation_id,
            night_of_stay: self.night_of_stay,
        }
    }
}

pub use crate::error::FieldError;

/// Every problem found in one event (validation does not stop at the first).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub struct ValidationErrors(pub Vec<FieldError>);

impl fmt::Display for ValidationErrors {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&crate::error::describe_fields(&self.0))
    }
}

impl From<ValidationErrors> for crate::error::ApiError {
    fn from(e: ValidationErrors) -> Self {
        crate::error::ApiError::Invalid(e.0)
    }
}

/// Whether the input must carry its own id: CSV rows and queue messages must, `POST /events`
/// need not.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IdRule {
    Required,
    Optional,
}

/// One field's raw value, whatever the transport: CSV gives text, JSON gives numbers or text
/// ("numbers may come as JSON numbers or strings").
#[derive(Debug, Clone, PartialEq)]
pub enum Scalar<'a> {
    Text(Cow<'a, str>),
    Int(i128),
    Float(f64),
    /// A JSON value that can never be a field: `true`, an array, an object.
    Other(&'static str),
}

/// The fields of one incoming event, by canonical name, before validation. Absent and `null`
/// fields are `None`.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct RawEvent<'a> {
    pub id: Option<Scalar<'a>>,
    pub hotel_id: Option<Scalar<'a>>,
    pub event_timestamp: Option<Scalar<'a>>,
    pub status: Option<Scalar<'a>>,
    pub room_reservation_id: Option<Scalar<'a>>,
    pub night_of_stay: Option<Scalar<'a>>,
    /// Problems found while reading, before any field rule (a field given twice, say).
    pub read_errors: Vec<FieldError>,
}

/// The event's fields and the names the original system's clients use for them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Field {
    Id,
    HotelId,
    EventTimestamp,
    Status,
    RoomReservationId,
    NightOfStay,
}

impl Field {
    pub const ALL: [Field; 6] = [
        Field::Id,
        Field::HotelId,
        Field::EventTimestamp,
        Field::Status,
        Field::RoomReservationId,
        Field::NightOfStay,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Field::Id => "id",
            Field::HotelId => "hotel_id",
            Field::EventTimestamp => "event_timestamp",
            Field::Status => "status",
            Field::RoomReservationId => "room_reservation_id",
            Field::NightOfStay => "night_of_stay",
        }
    }

    /// The field a key names, accepting the original system's aliases.
    pub fn from_key(key: &str) -> Option<Field> {
        Some(match key {
            "id" => Field::Id,
            "hotel_id" => Field::HotelId,
            "event_timestamp" | "timestamp" => Field::EventTimestamp,
            "status" | "rpg_status" => Field::Status,
            "room_reservation_id" | "room_id" => Field::RoomReservationId,
            "night_of_stay" => Field::NightOfStay,
            _ => return None,
        })
    }
}

impl<'a> RawEvent<'a> {
    fn slot(&mut self, field: Field) -> &mut Option<Scalar<'a>> {
        match field {
            Field::Id => &mut self.id,
            Field::HotelId => &mut self.hotel_id,
            Field::EventTimestamp => &mut self.event_timestamp,
            Field::Status => &mut self.status,
            Field::RoomReservationId => &mut self.room_reservation_id,
            Field::NightOfStay => &mut self.night_of_stay,
        }
    }

    /// Records `value` under the field `key` names; unknown keys are ignored.
    pub fn set(&mut self, key: &str, value: Option<Scalar<'a>>) {
        let Some(field) = Field::from_key(key) else {
            return;
        };
        let slot = self.slot(field);
        if slot.is_some() && value.is_some() {
            self.read_errors.push(FieldError::new(
                field.name(),
                format!("given more than once (`{key}` repeats it)"),
            ));
            return;
        }
        if value.is_some() {
            *slot = value;
        }
    }

    /// The rules for input that must carry its own id: CSV rows and queue messages.
    pub fn validate_with_id(self) -> Result<Event, ValidationErrors> {
        let new = self.validate(IdRule::Required)?;
        match new.id {
            Some(id) => Ok(new.with_id(id)),
            None => Err(ValidationErrors(vec![FieldError::new("id", "is required")])),
        }
    }

    /// Applies the rules every entry point shares; reports every bad field at once.
    pub fn validate(self, id_rule: IdRule) -> Result<NewEvent, ValidationErrors> {
        let mut errors = self.read_errors;
        let id = match self.id {
            None if id_rule == IdRule::Required => {
                errors.push(FieldError::new("id", "is required"));
                None
            }
            None => None,
            Some(v) => collect(&mut errors, "id", parse_id(&v, id_rule)),
        };
        let hotel_id = required(&mut errors, Field::HotelId, self.hotel_id, parse_hotel_id);
        let event_timestamp = required(
            &mut errors,
            Field::EventTimestamp,
            self.event_timestamp,
            |v| text_of(v).and_then(parse_timestamp),
        );
        let status = required(&mut errors, Field::Status, self.status, parse_status);
        let room_reservation_id = required(
            &mut errors,
            Field::RoomReservationId,
            self.room_reservation_id,
            |v| text_of(v).and_then(parse_uuid),
        );
        let night_of_stay = required(&mut errors, Field::NightOfStay, self.night_of_stay, |v| {
            text_of(v).and_then(parse_date)
        });
        match (
            hotel_id,
            event_timestamp,
            status,
            room_reservation_id,
            night_of_stay,
        ) {
            (Some(hotel_id), Some(event_timestamp), Some(status), Some(rid), Some(night))
                if errors.is_empty() =>
            {
                Ok(NewEvent {
                    id,
                    hotel_id,
                    event_timestamp,
                    status,
                    room_reservation_id: rid,
                    night_of_stay: night,
                })
            }
            _ => Err(ValidationErrors(errors)),
        }
    }
}

fn collect<T>(errors: &mut Vec<FieldError>, field: &str, r: Result<T, String>) -> Option<T> {
    match r {
        Ok(v) => Some(v),
        Err(message) => {
            errors.push(FieldError::new(field, message));
            None
        }
    }
}

fn required<'a, T>(
    errors: &mut Vec<FieldError>,
    field: Field,
    value: Option<Scalar<'a>>,
    parse: impl FnOnce(&Scalar<'a>) -> Result<T, String>,
) -> Option<T> {
    match value {
        None => {
            errors.push(FieldError::new(field.name(), "is required"));
            None
        }
        Some(v) => collect(errors, field.name(), parse(&v)),
    }
}

fn text_of<'s>(v: &'s Scalar<'_>) -> Result<&'s str, String> {
    match v {
        Scalar::Text(t) => Ok(t.trim()),
        Scalar::Int(_) | Scalar::Float(_) => Err("must be a string, not a number".into()),
        Scalar::Other(kind) => Err(format!("must be a string, not {kind}")),
    }
}

fn integer_of(v: &Scalar<'_>) -> Result<i128, String> {
    match v {
        Scalar::Int(i) => Ok(*i),
        Scalar::Text(t) => {
            let t = t.trim();
            if t.is_empty() {
                return Err("is empty".into());
            }
            t.parse::<i128>()
                .map_err(|_| format!("must be an integer, got {:?}", shorten(t)))
        }
        Scalar::Float(f) => Err(format!("must be an integer, got {f}")),
        Scalar::Other(kind) => Err(format!("must be an integer, not {kind}")),
    }
}

/// Keeps error messages short when a client sends a novel.
fn shorten(s: &str) -> Cow<'_, str> {
    const MAX: usize = 64;
    if s.len() <= MAX {
        return Cow::Borrowed(s);
    }
    let mut end = MAX;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    Cow::Owned(format!("{}…", &s[..end]))
}

pub fn parse_id(v: &Scalar<'_>, rule: IdRule) -> Result<i64, String> {
    let i = integer_of(v)?;
    if i < 1 || i > i128::from(MAX_ID) {
        return Err(format!(
            "must be an integer from 1 to {MAX_ID} (2^53 − 1): JavaScript clients read larger \
             ids rounded to another number"
        ));
    }
    if rule == IdRule::Required && i >= i128::from(ASSIGNED_ID_FLOOR) {
        return Err(format!(
            "must be below {ASSIGNED_ID_FLOOR} (2^52); ids from there up are assigned by the service"
        ));
    }
    Ok(i as i64)
}

pub fn parse_hotel_id(v: &Scalar<'_>) -> Result<i32, String> {
    let i = integer_of(v)?;
    if i < 1 || i > i128::from(i32::MAX) {
        return Err(format!("must be a positive integer below {}", 1u64 << 31));
    }
    Ok(i as i32)
}

pub fn parse_status(v: &Scalar<'_>) -> Result<i16, String> {
    match integer_of(v) {
        Ok(1) => Ok(STATUS_BOOKING),
        Ok(2) => Ok(STATUS_CANCELLATION),
        Ok(other) => Err(format!(
            "must be 1 (booking) or 2 (cancellation), got {other}"
        )),
        Err(e) => Err(format!("{e}; must be 1 (booking) or 2 (cancellation)")),
    }
}

pub fn parse_uuid(s: &str) -> Result<Uuid, String> {
    if s.is_empty() {
        return Err("is empty".into());
    }
    // Only the hyphenated form: the braced, URN and bare forms `Uuid::parse_str` also takes are
    // not what any producer sends, and accepting them would hide a mangled column.
    if s.len() != 36 {
        return Err(format!(
            "must be a UUID like 0013e338-0158-4d5c-8698-aebe00cba360, got {:?}",
            shorten(s)
        ));
    }
    Uuid::try_parse(s).map_err(|_| {
        format!(
            "must be a UUID like 0013e338-0158-4d5c-8698-aebe00cba360, got {:?}",
            shorten(s)
        )
    })
}

fn check_year(year: i32) -> Result<(), String> {
    if (MIN_YEAR..=MAX_YEAR).contains(&year) {
        Ok(())
    } else {
        Err(format!("year {year} is outside {MIN_YEAR}–{MAX_YEAR}"))
    }
}

/// `YYYY-MM-DD`.
pub fn parse_date(s: &str) -> Result<NaiveDate, String> {
    if s.is_empty() {
        return Err("is empty".into());
    }
    let date = parse_date_fast(s.as_bytes())
        .ok_or_else(|| format!("must be a date YYYY-MM-DD, got {:?}", shorten(s)))?;
    check_year(date.year())?;
    Ok(date)
}

/// RFC 3339 with `Z` or an offset, or the original export's `YYYY-MM-DD HH:MM:SS`, which is
/// UTC. Sub-microsecond digits are dropped: PostgreSQL keeps microseconds.
pub fn parse_timestamp(s: &str) -> Result<DateTime<Utc>, String> {
    if s.is_empty() {
        return Err("is empty".into());
    }
    let bad = || {
        format!(
            "must be RFC 3339 (2022-06-24T13:00:56Z, or with an offset) or YYYY-MM-DD HH:MM:SS (UTC), got {:?}",
            shorten(s)
        )
    };
    let ts = if let Some(naive) = parse_naive_fast(s.as_bytes()) {
        naive.and_utc()
    } else if let Ok(dt) = DateTime::parse_from_rfc3339(s) {
        dt.with_timezone(&Utc)
    } else if let Ok(naive) = NaiveDateTime::parse_from_str(s, "%Y-%m-%d %H:%M:%S%.f") {
        naive.and_utc()
    } else {
        return Err(bad());
    };
    // chrono reads second 60 as a leap second anywhere, and PostgreSQL would store it as the
    // next minute: 2100-12-31T23:59:60Z became 2101-01-01, outside the years served.
    if ts.nanosecond() >= 1_000_000_000 {
        return Err(format!(
            "second 60 (a leap second) is not accepted: UTC timestamps here run to :59, got {:?}",
            shorten(s)
        ));
    }
    let ts = DateTime::from_timestamp_micros(ts.timestamp_micros()).ok_or_else(bad)?;
    // Checked on the stored (UTC, microsecond) value, the one every reader sees.
    check_year(ts.year())?;
    Ok(ts)
}

fn digits<const N: usize>(b: &[u8]) -> Option<u32> {
    if b.len() != N {
        return None;
    }
    let mut v = 0u32;
    for &c in b {
        if !c.is_ascii_digit() {
            return None;
        }
        v = v * 10 + u32::from(c - b'0');
    }
    Some(v)
}

/// The loader's hot path: `YYYY-MM-DD` without chrono's format interpreter.
fn parse_date_fast(b: &[u8]) -> Option<NaiveDate> {
    if b.len() != 10 || b[4] != b'-' || b[7] != b'-' {
        return None;
    }
    NaiveDate::from_ymd_opt(
        digits::<4>(&b[0..4])? as i32,
        digits::<2>(&b[5..7])?,
        digits::<2>(&b[8..10])?,
    )
}

/// The loader's hot path: `YYYY-MM-DD HH:MM:SS` and `YYYY-MM-DDTHH:MM:SSZ`, both UTC.
fn parse_naive_fast(b: &[u8]) -> Option<NaiveDateTime> {
    let b = match b.len() {
        19 => b,
        20 if b[19] == b'Z' && b[10] == b'T' => &b[..19],
        _ => return None,
    };
    if !(b[10] == b' ' || b[10] == b'T') || b[13] != b':' || b[16] != b':' {
        return None;
    }
    parse_date_fast(&b[..10])?.and_hms_opt(
        digits::<2>(&b[11..13])?,
        digits::<2>(&b[14..16])?,
        digits::<2>(&b[17..19])?,
    )
}

/// Reads one JSON object into a `RawEvent` without failing on field types, so that validation
/// can name each bad field; only a body that is not a JSON object is an error here.
impl<'de> Deserialize<'de> for RawEvent<'de> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct ObjectVisitor;
        impl<'de> Visitor<'de> for ObjectVisitor {
            type Value = RawEvent<'de>;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a JSON object")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
                let mut raw = RawEvent::default();
                while let Some(Key(key)) = map.next_key::<Key<'de>>()? {
                    if Field::from_key(&key).is_some() {
                        let value: ScalarValue<'de> = map.next_value()?;
                        raw.set(&key, value.0);
                    } else {
                        map.next_value::<IgnoredAny>()?;
                    }
                }
                Ok(raw)
            }
        }
        d.deserialize_map(ObjectVisitor)
    }
}

/// An object key, borrowed from the input when it has no escapes (serde's own `Cow` always
/// copies).
struct Key<'a>(Cow<'a, str>);

impl<'de> Deserialize<'de> for Key<'de> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Key<'de>;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a string key")
            }
            fn visit_borrowed_str<E: de::Error>(self, v: &'de str) -> Result<Self::Value, E> {
                Ok(Key(Cow::Borrowed(v)))
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
                Ok(Key(Cow::Owned(v.to_owned())))
            }
        }
        d.deserialize_str(V)
    }
}

/// A JSON value read as a `Scalar`; `null` is `None` (an absent field).
struct ScalarValue<'a>(Option<Scalar<'a>>);

impl<'de> Deserialize<'de> for ScalarValue<'de> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = ScalarValue<'de>;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a JSON value")
            }
            fn visit_bool<E: de::Error>(self, _: bool) -> Result<Self::Value, E> {
                Ok(ScalarValue(Some(Scalar::Other("a boolean"))))
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<Self::Value, E> {
                Ok(ScalarValue(Some(Scalar::Int(v.into()))))
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<Self::Value, E> {
                Ok(ScalarValue(Some(Scalar::Int(v.into()))))
            }
            fn visit_f64<E: de::Error>(self, v: f64) -> Result<Self::Value, E> {
                Ok(ScalarValue(Some(Scalar::Float(v))))
            }
            fn visit_borrowed_str<E: de::Error>(self, v: &'de str) -> Result<Self::Value, E> {
                Ok(ScalarValue(Some(Scalar::Text(Cow::Borrowed(v)))))
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
                Ok(ScalarValue(Some(Scalar::Text(Cow::Owned(v.to_owned())))))
            }
            fn visit_string<E: de::Error>(self, v: String) -> Result<Self::Value, E> {
                Ok(ScalarValue(Some(Scalar::Text(Cow::Owned(v)))))
            }
            fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
                Ok(ScalarValue(None))
            }
            fn visit_none<E: de::Error>(self) -> Result<Self::Value, E> {
                Ok(ScalarValue(None))
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
                while seq.next_element::<IgnoredAny>()?.is_some() {}
                Ok(ScalarValue(Some(Scalar::Other("an array"))))
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
                while map.next_entry::<IgnoredAny, IgnoredAny>()?.is_some() {}
                Ok(ScalarValue(Some(Scalar::Other("an object"))))
            }
        }
        d.deserialize_any(V)
    }
}

/// Why a JSON document is not an event, before any field is looked at.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("body must be a JSON object with the event's fields: {0}")]
pub struct NotAnObject(pub String);

/// Reads a JSON document (a request body or a queue message) into a `RawEvent`.
pub fn raw_from_json(bytes: &[u8]) -> Result<RawEvent<'_>, NotAnObject> {
    serde_json::from_slice(bytes).map_err(|e| NotAnObject(e.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn json(s: &str) -> Result<NewEvent, ValidationErrors> {
        raw_from_json(s.as_bytes())
            .expect("test bodies are JSON objects")
            .validate(IdRule::Optional)
    }

    const GOOD: &str = r#"{"id":"19291943","hotel_id":2607,"event_timestamp":"2022-06-24 13:00:56","status":"1","room_reservation_id":"0013E338-0158-4D5C-8698-AEBE00CBA360","night_of_stay":"2022-06-26","extra":[1,{"a":2}]}"#;

    #[test]
    fn numbers_may_be_strings_and_unknown_fields_are_ignored() {
        let e = json(GOOD).unwrap();
        assert_eq!(e.id, Some(19291943));
        assert_eq!(e.hotel_id, 2607);
        assert_eq!(e.status, 1);
        assert_eq!(
            e.room_reservation_id.to_string(),
            "0013e338-0158-4d5c-8698-aebe00cba360"
        );
        assert_eq!(format_timestamp(&e.event_timestamp), "2022-06-24T13:00:56Z");
    }

    #[test]
    fn aliases_are_the_same_fields() {
        let e = json(
            r#"{"hotel_id":"7","timestamp":"2022-06-24T15:00:56+02:00","rpg_status":2,"room_id":"0013e338-0158-4d5c-8698-aebe00cba360","night_of_stay":"2022-06-26"}"#,
        )
        .unwrap();
        assert_eq!(e.status, 2);
        assert_eq!(format_timestamp(&e.event_timestamp), "2022-06-24T13:00:56Z");
    }

    #[test]
    fn a_field_given_twice_is_named() {
        let err = json(
            r#"{"hotel_id":7,"status":1,"rpg_status":2,"event_timestamp":"2022-06-24T13:00:56Z","room_id":"0013e338-0158-4d5c-8698-aebe00cba360","night_of_stay":"2022-06-26"}"#,
        )
        .unwrap_err();
        assert_eq!(err.0.len(), 1);
        assert_eq!(err.0[0].field, "status");
    }

    #[test]
    fn every_bad_field_is_reported() {
        let err = json(
            r#"{"id":0,"hotel_id":-1,"event_timestamp":"yesterday","status":3,"room_reservation_id":"nope","night_of_stay":"2022-02-30"}"#,
        )
        .unwrap_err();
        let fields: Vec<_> = err.0.iter().map(|e| e.field.as_str()).collect();
        assert_eq!(
            fields,
            [
                "id",
                "hotel_id",
                "event_timestamp",
                "status",
                "room_reservation_id",
                "night_of_stay"
            ]
        );
    }

    #[test]
    fn missing_fields_are_required() {
        let err = raw_from_json(b"{}")
            .unwrap()
            .validate(IdRule::Required)
            .unwrap_err();
        assert_eq!(err.0.len(), 6);
        assert!(err.0.iter().all(|e| e.message == "is required"));
    }

    #[test]
    fn reserved_ids_come_only_from_the_service() {
        let v = Scalar::Int(ASSIGNED_ID_FLOOR.into());
        assert!(parse_id(&v, IdRule::Required).is_err());
        assert_eq!(parse_id(&v, IdRule::Optional), Ok(ASSIGNED_ID_FLOOR));
        assert_eq!(
            parse_id(&Scalar::Int(MAX_ID.into()), IdRule::Optional),
            Ok(MAX_ID)
        );
        for too_large in [i128::from(MAX_ID) + 1, 1 << 62, i128::from(i64::MAX) + 1] {
            let err = parse_id(&Scalar::Int(too_large), IdRule::Optional).unwrap_err();
            assert!(err.contains("9007199254740991"), "{err}");
        }
    }

    #[test]
    fn not_an_object_is_not_an_event() {
        for body in ["[1,2]", "\"x\"", "12", "null", "{", ""] {
            assert!(raw_from_json(body.as_bytes()).is_err(), "{body}");
        }
    }

    #[test]
    fn timestamps_in_every_accepted_form() {
        for s in [
            "2022-06-24 13:00:56",
            "2022-06-24T13:00:56Z",
            "2022-06-24T13:00:56.000Z",
            "2022-06-24T14:00:56+01:00",
            "2022-06-24t13:00:56z",
        ] {
            assert_eq!(
                format_timestamp(&parse_timestamp(s).unwrap()),
                "2022-06-24T13:00:56Z",
                "{s}"
            );
        }
        for s in [
            "2022-06-24",
            "2022-06-24 13:00:60",
            "2022-06-24T13:00:60Z",
            "2016-12-31T23:59:60Z",
            "2100-12-31T23:59:60Z",
            "2100-12-31T23:59:60.5Z",
            "2100-12-31 23:59:60",
            "2100-12-31T23:30:00-01:00",
            "1900-01-01T00:30:00+01:00",
            "2022-06-24 25:00:00",
            "1800-01-01 00:00:00",
            "x",
        ] {
            assert!(parse_timestamp(s).is_err(), "{s}");
        }
    }

    /// The queue's JSON form, written out field by field: what `Event`'s `Serialize` must give.
    fn queue_form(e: &Event) -> String {
        format!(
            r#"{{"id":{},"hotel_id":{},"event_timestamp":"{}","status":{},"room_reservation_id":"{}","night_of_stay":"{}"}}"#,
            e.id,
            e.hotel_id,
            e.event_timestamp.format("%Y-%m-%dT%H:%M:%SZ"),
            e.status,
            e.room_reservation_id.as_hyphenated(),
            e.night_of_stay.format("%Y-%m-%d"),
        )
    }

    #[test]
    fn queue_json_round_trips() {
        let e = json(GOOD).unwrap().with_id(5);
        let buf = serde_json::to_vec(&e).unwrap();
        assert_eq!(
            std::str::from_utf8(&buf).unwrap(),
            r#"{"id":5,"hotel_id":2607,"event_timestamp":"2022-06-24T13:00:56Z","status":1,"room_reservation_id":"0013e338-0158-4d5c-8698-aebe00cba360","night_of_stay":"2022-06-26"}"#
        );
        let back = raw_from_json(&buf)
            .unwrap()
            .validate(IdRule::Required)
            .unwrap();
        assert_eq!(back.with_id(5), e);
    }

    proptest! {
        #[test]
        fn validation_never_panics_on_any_json(s in ".{0,200}") {
            if let Ok(raw) = raw_from_json(s.as_bytes()) {
                let _ = raw.validate(IdRule::Required);
            }
        }

        #[test]
        fn field_parsers_never_panic(s in "\\PC{0,80}") {
            let _ = parse_timestamp(&s);
            let _ = parse_date(&s);
            let _ = parse_uuid(&s);
            let _ = parse_status(&Scalar::Text(Cow::Borrowed(&s)));
            let _ = parse_hotel_id(&Scalar::Text(Cow::Borrowed(&s)));
            let _ = parse_id(&Scalar::Text(Cow::Borrowed(&s)), IdRule::Required);
        }

        #[test]
        fn valid_events_survive_the_queue(
            id in 1i64..ASSIGNED_ID_FLOOR,
            hotel in 1i32..=i32::MAX,
            secs in -2_208_988_800i64..4_102_444_799,
            status in 1i16..=2,
            uuid_bits in any::<u128>(),
            days in 0i64..73_000,
        ) {
            let e = Event {
                id,
                hotel_id: hotel,
                event_timestamp: DateTime::from_timestamp(secs, 0).unwrap(),
                status,
                room_reservation_id: Uuid::from_u128(uuid_bits),
                night_of_stay: NaiveDate::from_ymd_opt(1900, 1, 1).unwrap() + chrono::Days::new(days as u64),
            };
            let buf = serde_json::to_vec(&e).unwrap();
            prop_assert_eq!(std::str::from_utf8(&buf).unwrap(), queue_form(&e));
            let back = raw_from_json(&buf).unwrap().validate(IdRule::Required).unwrap();
            prop_assert_eq!(back.with_id(id), e);
        }
    }
}
