//! The form that picks the hotel, year, basis and month (or, in the Pace view, the as-of day),
//! and the links to the two views.

use maud::{html, Markup};

use super::hotel_of;
use crate::dashboard::store::HotelYears;

/// The parameters the form sends.
pub(super) const FORM_FIELDS: [&str; 4] = ["hotel_id", "year", "basis", "month"];

pub(super) const MONTHS: [&str; 12] = [
    "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
];

/// The form's values as sent, echoed back into the form.
#[derive(Debug, Default)]
pub struct Form {
    pub hotel_id: String,
    pub year: String,
    pub basis: String,
    pub month: String,
    pub view: String,
    pub as_of: String,
    pub night: String,
    /// The hotel asked for is one the key may not see: the form says so rather than "no
    /// figures".
    pub not_allowed: bool,
}

impl Form {
    pub fn from_query(query: &str) -> Self {
        let mut form = Form::default();
        for (key, value) in url::form_urlencoded::parse(query.as_bytes()) {
            let slot = match key.as_ref() {
                "hotel_id" => &mut form.hotel_id,
                "year" => &mut form.year,
                "basis" => &mut form.basis,
                "month" => &mut form.month,
                "view" => &mut form.view,
                "as_of" => &mut form.as_of,
                "night" => &mut form.night,
                _ => continue,
            };
            if slot.is_empty() {
                *slot = value.trim().to_string();
            }
        }
        form
    }

    fn pace(&self) -> bool {
        self.view == "pace"
    }
}

/// `2022` or `2022–2024`.
pub(super) fn years(h: &HotelYears) -> String {
    if h.first_year == h.last_year {
        h.first_year.to_string()
    } else {
        format!("{}–{}", h.first_year, h.last_year)
    }
}

/// The hotels with figures to choose from (each with its years), or a number to type when
/// there are none.
pub(super) fn hotel_field(form: &Form, hotels: &[HotelYears]) -> Markup {
    if hotels.is_empty() {
        return html! {
            label {
                "Hotel id"
                input type="number" name="hotel_id" min="1" required value=(form.hotel_id);
            }
        };
    }
    // Asked for in the address: echoed, so that the form says what is shown.
    let unknown = !form.hotel_id.is_empty() && hotel_of(hotels, &form.hotel_id).is_none();
    html! {
        label {
            "Hotel (years with figures)"
            select name="hotel_id" required {
                @if unknown {
                    option value=(form.hotel_id) selected {
                        (form.hotel_id)
                        @if form.not_allowed { " (not allowed)" } @else { " (no figures)" }
                    }
                }
                @for h in hotels {
                    @let chosen = hotel_of(std::slice::from_ref(h), &form.hotel_id).is_some();
                    option value=(h.hotel_id) selected[chosen] { (h.hotel_id) " (" (years(h)) ")" }
                }
            }
        }
    }
}

/// Links to the two views, for the hotel shown.
pub(super) fn views_nav(form: &Form) -> Markup {
    let link = |view: Option<&str>| {
        let mut q = url::form_urlencoded::Serializer::new(String::new());
        if let Some(view) = view {
            q.append_pair("view", view);
        }
        if !form.hotel_id.is_empty() {
            q.append_pair("hotel_id", &form.hotel_id);
        }
        format!("/?{}", q.finish())
    };
    let current = |pace: bool| (form.pace() == pace).then_some("page");
    html! {
        nav.views aria-label="Views" {
            a href=(link(None)) aria-current=[current(false)] { "Bookings per month and day" }
            a href=(link(Some("pace"))) aria-current=[current(true)] { "Pace" }
        }
    }
}

pub(super) fn form_html(form: &Form, hotels: &[HotelYears]) -> Markup {
    let stay = form.basis == "stay";
    if form.pace() {
        return html! {
            (views_nav(form))
            form method="get" action="/" {
                input type="hidden" name="view" value="pace";
                (hotel_field(form, hotels))
                label {
                    "As of (empty: the latest day with events, or earlier if the nights after it have none)"
                    input type="date" name="as_of" min="1900-01-01" max="2100-12-31"
                        value=(form.as_of);
                }
                button type="submit" { "Show" }
            }
        };
    }
    html! {
        (views_nav(form))
        form method="get" action="/" {
            (hotel_field(form, hotels))
            label {
                "Year"
                input type="number" name="year" min="1900" max="2100" required value=(form.year);
            }
            label {
                "Basis"
                select name="basis" {
                    option value="event" selected[!stay] { "event date" }
                    option value="stay" selected[stay] { "night of stay" }
                }
            }
            label {
                "Month (per-day chart)"
                select name="month" {
                    option value="" { "none" }
                    @for (i, name) in MONTHS.iter().enumerate() {
                        @let value = (i + 1).to_string();
                        option value=(value) selected[form.month == value] { (name) }
                    }
                }
            }
            button type="submit" { "Show" }
        }
    }
}
