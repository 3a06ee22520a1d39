{
  "targets": [
    {
      "target_name": "relay",
      "sources": ["native/relay.c"],
      "cflags": ["-O2", "-Wall", "-Wextra", "-Wno-unused-parameter"],
      "defines": ["NAPI_VERSION=8"]
    }
  ]
}
