package redisstore

import "testing"

func TestParseInfo(t *testing.T) {
	st := parseInfo("# Memory\r\nused_memory:1024\r\nmaxmemory:4096\r\nmaxmemory_policy:allkeys-lru\r\n# Stats\r\nexpired_keys:3\r\nevicted_keys:7\r\n")
	if st != (Stats{UsedMemory: 1024, MaxMemory: 4096, EvictedKeys: 7, ExpiredKeys: 3, MaxMemoryPolicy: "allkeys-lru"}) {
		t.Errorf("%+v", st)
	}
}

// FuzzParseInfo: whatever a server answers to INFO, parsing never panics.
func FuzzParseInfo(f *testing.F) {
	f.Add("used_memory:1024\r\nmaxmemory:0\r\n")
	f.Add("evicted_keys:-1\nfoo")
	f.Fuzz(func(t *testing.T, s string) { _ = parseInfo(s) })
}
