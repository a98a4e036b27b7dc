//! Session JSON: read a session file (size check, version, view values, the embedded scene with its own
//! checks), check that a read session survives its own JSON round trip, and build its analytic model.
#![no_main]

use diffscope::session::{Session, is_session_json};
use diffscope_fuzz::scratch_file;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let path = scratch_file("json", data);
    // The drop-on-window test that tells sessions from scenes must not fail on any text either.
    if let Ok(text) = std::str::from_utf8(data) {
        let _ = is_session_json(text);
    }
    let Ok(session) = Session::load(&path) else {
        return;
    };
    let json = session
        .to_json_pretty()
        .expect("a valid session serialises");
    let again = Session::from_json_str(&json, &path).expect("a session's own JSON parses");
    assert_eq!(session, again, "JSON round trip changed the session");
    // Opening a session builds its model: it must stay within the allocation cap too.
    let _ = session.scene.model.build_analytic();
});
