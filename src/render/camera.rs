//! Cameras for the manifold view: a pan/zoom orthographic camera for 2-D projections and an orbit
//! camera for 3-D, both giving a view-projection matrix (glam) and the screen position of a point,
//! which the view uses for picking. No GPU, no egui.

use glam::camera::rh::{proj::directx, view};
use glam::{Mat4, Vec2, Vec3, Vec4Swizzles};

/// 2-D pan and zoom: `center` is the data point at the middle of the view and `half_height` the data
/// distance from the middle to the top edge.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct PanZoom {
    pub center: Vec2,
    pub half_height: f32,
}

impl Default for PanZoom {
    fn default() -> Self {
        PanZoom {
            center: Vec2::ZERO,
            half_height: 1.0,
        }
    }
}

impl PanZoom {
    /// A camera that shows `[min, max]` with a margin, keeping the aspect ratio of the view.
    pub fn fit(min: Vec2, max: Vec2, aspect: f32) -> Self {
        let size = (max - min).max(Vec2::splat(1e-6));
        let half_height = 0.5 * size.y.max(size.x / aspect.max(1e-3)) * 1.08;
        PanZoom {
            center: 0.5 * (min + max),
            half_height,
        }
    }

    pub fn view_proj(&self, aspect: f32) -> Mat4 {
        let h = self.half_height.max(1e-9);
        let w = h * aspect.max(1e-3);
        // wgpu clip space: y up, z in [0, 1] (glam calls this the DirectX convention).
        directx::orthographic(
            self.center.x - w,
            self.center.x + w,
            self.center.y - h,
            self.center.y + h,
            -1.0,
            1.0,
        )
    }

    /// Moves the view by a drag of `delta_px` pixels in a view `height_px` pixels tall.
    pub fn pan(&mut self, delta_px: Vec2, height_px: f32) {
        let per_px = 2.0 * self.half_height / height_px.max(1.0);
        self.center += Vec2::new(-delta_px.x, delta_px.y) * per_px;
    }

    /// Zooms by `factor` (> 1 zooms in) keeping the data point under `anchor_ndc` fixed.
    pub fn zoom(&mut self, factor: f32, anchor_ndc: Vec2, aspect: f32) {
        if !(factor.is_finite() && factor > 0.0) {
            return;
        }
        let half = Vec2::new(self.half_height * aspect, self.half_height);
        let anchor = self.center + anchor_ndc * half;
        self.half_height /= factor;
        self.center = anchor - (anchor - self.center) / factor;
    }
}

/// 3-D orbit around `target`: yaw and pitch in radians, `distance` from the target.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Orbit {
    pub target: Vec3,
    pub yaw: f32,
    pub pitch: f32,
    pub distance: f32,
}

impl Default for Orbit {
    fn default() -> Self {
        Orbit {
            target: Vec3::ZERO,
            yaw: 0.6,
            pitch: 0.35,
            distance: 3.0,
        }
    }
}

impl Orbit {
    /// Looks at the centre of `[min, max]` from far enough to see all of it.
    pub fn fit(min: Vec3, max: Vec3) -> Self {
        let radius = 0.5 * (max - min).length().max(1e-6);
        Orbit {
            target: 0.5 * (min + max),
            distance: radius / (FOV_Y * 0.5).tan() * 1.1,
            ..Orbit::default()
        }
    }

    pub fn eye(&self) -> Vec3 {
        let (sy, cy) = self.yaw.sin_cos();
        let (sp, cp) = self.pitch.sin_cos();
        self.target + self.distance * Vec3::new(cp * sy, sp, cp * cy)
    }

    pub fn view_proj(&self, aspect: f32) -> Mat4 {
        let near = (self.distance * 0.01).max(1e-4);
        let far = self.distance * 10.0 + 1.0;
        directx::perspective(FOV_Y, aspect.max(1e-3), near, far)
            * view::look_at_mat4(self.eye(), self.target, Vec3::Y)
    }

    /// Turns the camera by a drag of `delta_px` pixels.
    pub fn rotate(&mut self, delta_px: Vec2) {
        self.yaw -= delta_px.x * 0.01;
        self.pitch = (self.pitch + delta_px.y * 0.01).clamp(-1.5, 1.5);
    }

    pub fn zoom(&mut self, factor: f32) {
        if factor.is_finite() && factor > 0.0 {
            self.distance /= factor;
        }
    }
}

/// Vertical field of view of the orbit camera.
const FOV_Y: f32 = 0.8;

/// Where `point` lands in a view of `size_px` pixels (origin top-left), or `None` behind the camera.
pub fn to_screen(view_proj: &Mat4, point: Vec3, size_px: Vec2) -> Option<Vec2> {
    let clip = *view_proj * point.extend(1.0);
    if clip.w <= 0.0 {
        return None;
    }
    let ndc = clip.xy() / clip.w;
    Some(Vec2::new(
        (ndc.x + 1.0) * 0.5 * size_px.x,
        (1.0 - ndc.y) * 0.5 * size_px.y,
    ))
}

/// The index of the point closest to `cursor` within `radius_px`, if any.
pub fn pick(
    view_proj: &Mat4,
    points: impl Iterator<Item = Vec3>,
    size_px: Vec2,
    cursor: Vec2,
    radius_px: f32,
) -> Option<usize> {
    points
        .enumerate()
        .filter_map(|(i, p)| {
            to_screen(view_proj, p, size_px).map(|s| (i, s.distance_squared(cursor)))
        })
        .filter(|&(_, d2)| d2 <= radius_px * radius_px)
        .min_by(|a, b| a.1.total_cmp(&b.1))
        .map(|(i, _)| i)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fitted_box_lands_inside_the_view() {
        let (min, max) = (Vec2::new(-3.0, 1.0), Vec2::new(5.0, 2.0));
        let size = Vec2::new(400.0, 200.0);
        let cam = PanZoom::fit(min, max, size.x / size.y);
        let vp = cam.view_proj(size.x / size.y);
        for corner in [min, max, Vec2::new(min.x, max.y), Vec2::new(max.x, min.y)] {
            let s = to_screen(&vp, corner.extend(0.0), size).unwrap();
            assert!(
                s.x >= 0.0 && s.x <= size.x && s.y >= 0.0 && s.y <= size.y,
                "{corner} -> {s}"
            );
        }
        // The centre maps to the middle of the view.
        let c = to_screen(&vp, cam.center.extend(0.0), size).unwrap();
        assert!((c - size / 2.0).length() < 1e-3);
    }

    #[test]
    fn zoom_keeps_the_anchor_fixed() {
        let aspect = 1.5;
        let mut cam = PanZoom::fit(Vec2::splat(-1.0), Vec2::splat(1.0), aspect);
        let anchor_ndc = Vec2::new(0.5, -0.25);
        let before = cam.view_proj(aspect).inverse() * anchor_ndc.extend(0.0).extend(1.0);
        cam.zoom(2.0, anchor_ndc, aspect);
        let after = cam.view_proj(aspect).inverse() * anchor_ndc.extend(0.0).extend(1.0);
        assert!((before - after).length() < 1e-5);
    }

    #[test]
    fn orbit_sees_its_target_and_the_fitted_box() {
        let (min, max) = (Vec3::splat(-2.0), Vec3::splat(2.0));
        let cam = Orbit::fit(min, max);
        let size = Vec2::new(300.0, 300.0);
        let vp = cam.view_proj(1.0);
        let centre = to_screen(&vp, cam.target, size).unwrap();
        assert!((centre - size / 2.0).length() < 1e-3);
        for corner in [min, max] {
            let s = to_screen(&vp, corner, size).unwrap();
            assert!(s.x >= 0.0 && s.x <= size.x && s.y >= 0.0 && s.y <= size.y);
        }
    }

    #[test]
    fn pick_finds_the_nearest_point_in_reach() {
        let vp = PanZoom::fit(Vec2::ZERO, Vec2::splat(10.0), 1.0).view_proj(1.0);
        let size = Vec2::splat(100.0);
        let points = [
            Vec3::new(1.0, 1.0, 0.0),
            Vec3::new(5.0, 5.0, 0.0),
            Vec3::new(5.2, 5.0, 0.0),
        ];
        let at = to_screen(&vp, points[2], size).unwrap();
        assert_eq!(pick(&vp, points.iter().copied(), size, at, 4.0), Some(2));
        assert_eq!(
            pick(&vp, points.iter().copied(), size, Vec2::new(99.0, 1.0), 4.0),
            None
        );
    }
}
