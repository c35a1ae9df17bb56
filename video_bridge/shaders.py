"""GLSL 3.30 programs of the renderer (meshes and the ground; particles are splatted on the
CPU by ``kernels.warp.splat``, which is much faster than GL points on a CPU OpenGL).

The colour program writes three targets: 0 shaded RGB (RGBA8); 1 world normal + instance id
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
uniform sampler2DShadow shadow_map;  // meshes, rendered by GL
uniform sampler2D particle_shadow;   // particles, splatted on the CPU (1.0 = empty)
uniform int use_shadow;
uniform float shadow_texel;

float shadow_factor(vec4 light_clip) {
    if (use_shadow == 0) return 1.0;
    vec3 p = light_clip.xyz / light_clip.w * 0.5 + 0.5;
    if (p.x < 0.0 || p.x > 1.0 || p.y < 0.0 || p.y > 1.0 || p.z > 1.0) return 1.0;
    float lit = 0.0;
    // 2x2 taps half a texel apart; each mesh-map tap is itself a bilinear 2x2 comparison
    for (int i = 0; i < 2; ++i)
        for (int j = 0; j < 2; ++j) {
            vec2 uv = p.xy + (vec2(i, j) - 0.5) * shadow_texel;
            float particle = texture(particle_shadow, uv).r >= p.z - 0.002 ? 1.0 : 0.0;
            lit += texture(shadow_map, vec3(uv, p.z - 0.002)) * particle;
        }
    return lit / 4.0;
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

SHADOW_MESH_VERTEX = """
#version 330
uniform mat4 light_view_proj;
in vec3 in_pos;
void main() { gl_Position = light_view_proj * vec4(in_pos, 1.0); }
"""

SHADOW_FRAGMENT = """
#version 330
void main() {}
"""
