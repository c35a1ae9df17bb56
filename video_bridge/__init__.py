"""video_bridge: planned in a later issue (see issues); nothing is exported yet."""
