//! The page, compiled into the binary: one HTML file, one script, one style sheet,
//! written by hand (no build step, no framework, nothing fetched from a CDN).

use crate::content_type;
use axum::response::IntoResponse;

/// The page.
pub const INDEX_HTML: &str = include_str!("../assets/index.html");
/// Its script: draws frames, sends settings, keeps them in the URL.
pub const APP_JS: &str = include_str!("../assets/app.js");
/// Its style sheet.
pub const STYLE_CSS: &str = include_str!("../assets/style.css");
/// The Lessons view's script (see [`crate::lessons`]).
pub const LESSONS_JS: &str = include_str!("../assets/lessons.js");
/// The Lessons view's style sheet.
pub const LESSONS_CSS: &str = include_str!("../assets/lessons.css");

pub(crate) async fn index() -> impl IntoResponse {
    (content_type("text/html; charset=utf-8"), INDEX_HTML)
}

pub(crate) async fn script() -> impl IntoResponse {
    (content_type("text/javascript; charset=utf-8"), APP_JS)
}

pub(crate) async fn style() -> impl IntoResponse {
    (content_type("text/css; charset=utf-8"), STYLE_CSS)
}

pub(crate) async fn lessons_script() -> impl IntoResponse {
    (content_type("text/javascript; charset=utf-8"), LESSONS_JS)
}

pub(crate) async fn lessons_style() -> impl IntoResponse {
    (content_type("text/css; charset=utf-8"), LESSONS_CSS)
}
