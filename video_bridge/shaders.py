"""GLSL 3.30 programs of the renderer.

Every colour program writes three targets: 0 shaded RGB (RGBA8); 1 world normal + instance id
(RGBA32F); 2 forward flow in pixels, camera depth z [m] and coverage (RGBA32F). Clip space comes
from the OpenCV-convention projection of ``video_bridge.camera.Camera.gl_projection``.
"""

from __future__ import annotations

_COMMON_OUTPUTS = """
layout(location = 0) out vec4 out_color;
layout(location = 1) out vec4 out_normal_id;
layout(location = 2) out vec4 out_flow_depth;
"""

_SHADING = """
uniform vec3 light_dir;          // direction the light travels (world, unit)
uniform sampler2DShadow shadow_map;
uniform int use_shadow;
uniform float shadow_texel;

float shadow_factor(vec4 light_clip) {
    if (use_shadow == 0) return 1.0;
    vec3 p = light_clip.xyz / light_clip.w * 0.5 + 0.5;
    if (p.x < 0.0 || p.x > 1.0 || p.y < 0.0 || p.y > 1.0 || p.z > 1.0) return 1.0;
    float lit = 0.0;
    for (int i = -1; i <= 1; ++i)
        for (int j = -1; j <= 1; ++j)
            lit += texture(shadow_map, vec3(p.xy + vec2(i, j) * shadow_texel, p.z - 0.002));
    return lit / 9.0;
}

vec3 shade(vec3 base, vec3 n, vec4 light_clip) {
    float diffuse = max(dot(n, -light_dir), 0.0);
    return base * (0.32 + 0.68 * diffuse * shadow_factor(light_clip));
}
"""

MESH_VERTEX = """
#version 330
uniform mat4 view;
uniform mat4 proj;
uniform mat4 light_view_proj;
in vec3 in_pos;
in vec3 in_next;
in vec3 in_normal;
out vec3 v_world;
out vec3 v_next;
out vec3 v_normal;
out float v_depth;
out vec4 v_light;

void main() {
    vec4 cam = view * vec4(in_pos, 1.0);
    gl_Position = proj * cam;
    v_world = in_pos;
    v_next = in_next;      // affine over the triangle, so interpolation is exact
    v_normal = in_normal;
    v_depth = cam.z;
    v_light = light_view_proj * vec4(in_pos, 1.0);
}
"""

MESH_FRAGMENT = (
    """
#version 330
uniform vec3 color;
uniform float track_id;
uniform vec3 camera_pos;
uniform int checker;
uniform float checker_size;
uniform mat4 next_view_proj;
uniform vec2 image_size;
in vec3 v_world;
in vec3 v_next;
in vec3 v_normal;
in float v_depth;
in vec4 v_light;
"""
    + _COMMON_OUTPUTS
    + _SHADING
    + """
void main() {
    vec3 n = normalize(v_normal);
    if (dot(n, camera_pos - v_world) < 0.0) n = -n;   // two-sided
    vec3 base = color;
    if (checker == 1) {
        float c = mod(floor(v_world.x / checker_size) + floor(v_world.y / checker_size), 2.0);
        base = mix(vec3(0.80), vec3(0.62), c);
    }
    // forward flow of the surface point seen at this pixel centre, computed per fragment:
    // per-vertex flow is not affine in the image and breaks on large or clipped triangles
    vec4 next_clip = next_view_proj * vec4(v_next, 1.0);
    vec2 next_pixel = (next_clip.xy / next_clip.w * 0.5 + 0.5) * image_size - 0.5;
    vec2 flow = next_pixel - (gl_FragCoord.xy - 0.5);
    out_color = vec4(shade(base, n, v_light), 1.0);
    out_normal_id = vec4(n, track_id);
    out_flow_depth = vec4(flow, v_depth, 1.0);
}
"""
)

POINTS_VERTEX = """
#version 330
uniform mat4 view;
uniform mat4 proj;
uniform mat4 next_view_proj;
uniform vec2 image_size;
uniform float fy;
in vec3 in_pos;
in vec3 in_next;
in float in_radius;
out vec3 v_center;
out float v_radius;
out vec2 v_flow;

vec2 to_pixel(vec4 clip) { return (clip.xy / clip.w * 0.5 + 0.5) * image_size - 0.5; }

void main() {
    vec4 cam = view * vec4(in_pos, 1.0);
    vec4 clip = proj * cam;
    gl_Position = clip;
    gl_PointSize = max(2.0 * in_radius * fy / max(cam.z, 1e-6), 1.0);
    v_center = cam.xyz;
    v_radius = in_radius;
    v_flow = to_pixel(next_view_proj * vec4(in_next, 1.0)) - to_pixel(clip);
}
"""

POINTS_FRAGMENT = (
    """
#version 330
uniform vec3 color;
uniform float track_id;
uniform mat4 camera_to_world;
uniform mat4 light_view_proj;
uniform float depth_a;   // clip z = depth_a * z + depth_b, clip w = z
uniform float depth_b;
in vec3 v_center;
in float v_radius;
in vec2 v_flow;
"""
    + _COMMON_OUTPUTS
    + _SHADING
    + """
void main() {
    // sphere impostor: camera +x is window +x, camera +y is window +y (flipped projection)
    vec2 d = vec2(2.0 * gl_PointCoord.x - 1.0, 1.0 - 2.0 * gl_PointCoord.y);
    float r2 = dot(d, d);
    if (r2 > 1.0) discard;
    vec3 n_cam = vec3(d, -sqrt(1.0 - r2));
    vec3 surface = v_center + v_radius * n_cam;
    float ndc = (depth_a * surface.z + depth_b) / surface.z;
    gl_FragDepth = 0.5 * ndc + 0.5;
    vec3 n = normalize(mat3(camera_to_world) * n_cam);
    vec4 world = camera_to_world * vec4(surface, 1.0);
    out_color = vec4(shade(color, n, light_view_proj * world), 1.0);
    out_normal_id = vec4(n, track_id);
    out_flow_depth = vec4(v_flow, surface.z, 1.0);
}
"""
)

SHADOW_MESH_VERTEX = """
#version 330
uniform mat4 light_view_proj;
in vec3 in_pos;
void main() { gl_Position = light_view_proj * vec4(in_pos, 1.0); }
"""

SHADOW_POINTS_VERTEX = """
#version 330
uniform mat4 light_view_proj;
uniform float pixels_per_meter;
in vec3 in_pos;
in float in_radius;
void main() {
    gl_Position = light_view_proj * vec4(in_pos, 1.0);
    gl_PointSize = max(2.0 * in_radius * pixels_per_meter, 1.0);
}
"""

SHADOW_FRAGMENT = """
#version 330
uniform int round_points;
void main() {
    if (round_points == 1 && length(2.0 * gl_PointCoord - 1.0) > 1.0) discard;
}
"""
