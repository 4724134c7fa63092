package redisstore

import "github.com/redis/go-redis/v9"

// ClientOptions exposes what Open configured.
func ClientOptions(s *Store) *redis.Options { return s.client.Options() }

// KeyPrefix exposes the key prefix.
func KeyPrefix(s *Store) string { return s.prefix }
