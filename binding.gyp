{
  "targets": [
    {
      "target_name": "seglog_native",
      "sources": ["native/addon.c", "native/crc32c.c", "native/crc32c_avx512.c", "native/crc32c_avx2.c", "native/files.c", "native/zstd.c", "native/records.c", "native/prepare.c", "native/writes.c", "native/pin.c"],
      "cflags": ["-O3", "-Wall", "-Wextra", "-Wno-unused-parameter"],
      "libraries": ["-lpthread", "-ldl"],
      "xcode_settings": { "OTHER_CFLAGS": ["-O3"] }
    }
  ]
}
