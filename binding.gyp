{
  "targets": [
    {
      "target_name": "seglog_native",
      "sources": ["native/crc32c.c"],
      "cflags": ["-O3"],
      "xcode_settings": { "OTHER_CFLAGS": ["-O3"] }
    }
  ]
}
