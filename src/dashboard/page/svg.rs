//! What every chart of the page is drawn on: its frame, a y axis of room-nights labelled in
//! round steps, the axis titles, and bars standing on the zero line.

use maud::{html, Markup};

/// The width every chart is drawn in; the page scales it to the window.
pub(super) const W: f64 = 960.0;
/// The usual height of a chart.
pub(super) const H: f64 = 280.0;
/// Room on the left for the y axis's title and its labels.
pub(super) const LEFT: f64 = 70.0;
pub(super) const RIGHT: f64 = 8.0;
pub(super) const TOP: f64 = 14.0;
/// Room under the plot for two lines of x labels (a day and its weekday) and the x axis's title.
pub(super) const BOTTOM: f64 = 64.0;

/// What the y axis of every chart counts.
pub(super) const Y_TITLE: &str = "room-nights";

/// The distance between labelled y values: 1, 2 or 5 times a power of ten, about four of them
/// over `span`.
pub(super) fn tick_step(span: i64) -> i64 {
    let mut step = 1i64;
    loop {
        for m in [1, 2, 5] {
            if step.saturating_mul(m).saturating_mul(4) >= span {
                return step.saturating_mul(m);
            }
        }
        step = step.saturating_mul(10);
    }
}

/// A coordinate as the chart writes it.
pub(super) fn at(v: f64) -> String {
    format!("{v:.2}")
}

/// A chart's y axis, labelled every `tick_step`: from a multiple of the step at or below the
/// lowest value to one at or above the highest, so that its ends are labelled too. It is drawn
/// in a chart `height` high, between `TOP` and `height − BOTTOM`.
pub(super) struct Axis {
    top: i64,
    bottom: i64,
    step: i64,
    height: f64,
}

impl Axis {
    /// An axis over `low ..= high`, which include zero, in a chart of height `H`.
    pub(super) fn new(low: i64, high: i64) -> Self {
        let step = tick_step(high - low);
        let top = high.div_euclid(step) * step + if high % step == 0 { 0 } else { step };
        let bottom = low.div_euclid(step) * step;
        Axis {
            top,
            bottom,
            step,
            height: H,
        }
    }

    /// An axis covering `values` and zero, in a chart of height `H`.
    pub(super) fn over(values: impl Iterator<Item = i64> + Clone) -> Self {
        let low = values.clone().min().unwrap_or(0).min(0);
        Self::new(low, values.max().unwrap_or(0).max(0))
    }

    /// The same axis in a chart `height` high.
    pub(super) fn in_height(self, height: f64) -> Self {
        Axis { height, ..self }
    }

    /// The chart's height.
    pub(super) fn chart_height(&self) -> f64 {
        self.height
    }

    /// The lowest `y` of the plot: where the x labels start under it.
    pub(super) fn plot_bottom(&self) -> f64 {
        self.height - BOTTOM
    }

    fn span(&self) -> f64 {
        (self.top - self.bottom).max(1) as f64
    }

    fn plot_height(&self) -> f64 {
        self.plot_bottom() - TOP
    }

    pub(super) fn y(&self, v: i64) -> f64 {
        self.y_of(v as f64)
    }

    /// `y` of a value that need not be whole (a forecast).
    pub(super) fn y_of(&self, v: f64) -> f64 {
        TOP + (self.top as f64 - v) / self.span() * self.plot_height()
    }

    /// The height a bar of `v` (> 0) is drawn with.
    pub(super) fn height(&self, v: i64) -> f64 {
        v as f64 / self.span() * self.plot_height()
    }

    /// A line and a label at every labelled value (the zero line is the axis), and the titles
    /// of both axes: room-nights up the left, `x_title` under the x labels.
    pub(super) fn grid(&self, x_title: &str) -> Markup {
        let ticks = std::iter::successors(Some(self.bottom), |t| Some(t + self.step))
            .take_while(|t| *t <= self.top);
        let middle = (TOP + self.plot_bottom()) / 2.0;
        html! {
            @for tick in ticks {
                line class=(if tick == 0 { "axis" } else { "grid" }) x1=(LEFT) y1=(at(self.y(tick)))
                    x2=(W - RIGHT) y2=(at(self.y(tick))) {}
                text.tick.y x=(LEFT - 6.0) y=(at(self.y(tick) + 4.5)) text-anchor="end" { (tick) }
            }
            text.axis-title.y x="16" y=(at(middle)) text-anchor="middle"
                transform={ "rotate(-90 16 " (at(middle)) ")" } { (Y_TITLE) }
            text.axis-title.x x=(at((LEFT + W - RIGHT) / 2.0)) y=(at(self.height - 6.0))
                text-anchor="middle" { (x_title) }
        }
    }

    /// `y` of the first line of x labels.
    pub(super) fn label_y(&self) -> f64 {
        self.plot_bottom() + 18.0
    }

    /// `y` of the second line of x labels (a day's weekday).
    pub(super) fn second_label_y(&self) -> f64 {
        self.plot_bottom() + 34.0
    }
}

/// A bar from zero to `v` (below the axis when negative) with its figure on hover.
pub(super) fn bar(class: &str, x: f64, width: f64, v: i64, y_axis: &Axis, title: &str) -> Markup {
    let (top, bottom) = (y_axis.y(v.max(0)), y_axis.y(v.min(0)));
    html! {
        rect class=(class) x=(at(x)) y=(at(top)) width=(at(width)) height=(at(bottom - top)) {
            title { (title) }
        }
    }
}
