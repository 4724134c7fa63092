// Package redisstore keeps the feature histories in Redis, so that every replica of the function
// scores with the whole history of a customer and a terminal, not only with the transactions that
// happened to reach it.
//
// It is a features.Store whose histories hold exactly the events the in-memory store would hold
// (same pruning horizon, same idempotence by id hash, same order), so features.Compute gives the
// same values whichever store is used. A transaction costs one round trip: one EVALSHA of a Lua
// script that reads, prunes and updates the customer's and the terminal's histories atomically
// and returns them. Every failure is returned as an error; the scorer then answers 503 and
// nothing is scored from a partial state.
//
// The script touches a customer key and a terminal key together, so the store needs one Redis
// primary (with replicas or Sentinel for failover), not Redis Cluster.
package redisstore

import (
	"context"
	_ "embed"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"

	"function/internal/features"
	"function/internal/txn"
)

// Defaults for what the URL does not set.
const (
	DefaultPrefix       = "fd:"
	DefaultDialTimeout  = time.Second
	DefaultReadTimeout  = 500 * time.Millisecond
	DefaultWriteTimeout = 500 * time.Millisecond
	DefaultMaxRetries   = 1
	// DefaultProtocol is RESP2: the store needs nothing of RESP3 (push notifications, which
	// go-redis checks for around every command).
	DefaultProtocol = 2
	// DefaultTTL keeps a history for a day longer than any feature looks back, so that an idle
	// customer's or terminal's keys vanish on their own.
	DefaultTTL = features.Horizon + 24*time.Hour
)

// ErrCorrupt means a history in Redis is not in the format this package writes.
var ErrCorrupt = errors.New("corrupt history")

//go:embed history.lua
var historySource string

var history = redis.NewScript(historySource)

// Store is a features.Store in Redis. It is safe for concurrent use.
type Store struct {
	client *redis.Client
	prefix string
	ttlMS  string
	cut    int64 // seconds before a transaction whose events no window can see
	owned  bool  // Close closes the client
	pool   sync.Pool
}

// Option configures a Store.
type Option func(*Store)

// WithPrefix sets the prefix of every key (default DefaultPrefix), so that several stores can
// share one Redis database.
func WithPrefix(p string) Option { return func(s *Store) { s.prefix = p } }

// WithTTL sets how long an untouched history is kept (default DefaultTTL). Shorter than
// features.Horizon would lose events that the in-memory store keeps.
func WithTTL(d time.Duration) Option {
	return func(s *Store) { s.ttlMS = strconv.FormatInt(d.Milliseconds(), 10) }
}

// New returns a store on client; the caller keeps ownership of client.
func New(client *redis.Client, opts ...Option) *Store {
	s := &Store{client: client, prefix: DefaultPrefix, cut: int64(features.Horizon / time.Second)}
	WithTTL(DefaultTTL)(s)
	for _, o := range opts {
		o(s)
	}
	s.pool.New = func() any { return new(histories) }
	return s
}

// Open connects lazily to the Redis of a redis://, rediss:// or unix:// URL, as go-redis parses
// it (user, password, database, and options such as read_timeout or pool_size in the query),
// plus key_prefix. Timeouts and retries the URL does not set get this package's defaults, short
// enough for a 503 to come quickly when Redis is away. Open does not dial: use Ping to check.
func Open(rawURL string, opts ...Option) (*Store, error) {
	u, err := url.Parse(rawURL)
	if err != nil {
		return nil, fmt.Errorf("redisstore: feature store URL: %w", err)
	}
	q := u.Query()
	prefix, hasPrefix := q.Get("key_prefix"), q.Has("key_prefix")
	q.Del("key_prefix")
	u.RawQuery = q.Encode()
	o, err := redis.ParseURL(u.String())
	if err != nil {
		return nil, fmt.Errorf("redisstore: feature store URL %s: %w", u.Redacted(), err)
	}
	if o.DialTimeout == 0 {
		o.DialTimeout = DefaultDialTimeout
	}
	if o.ReadTimeout == 0 {
		o.ReadTimeout = DefaultReadTimeout
	}
	if o.WriteTimeout == 0 {
		o.WriteTimeout = DefaultWriteTimeout
	}
	if o.MaxRetries == 0 {
		o.MaxRetries = DefaultMaxRetries
	}
	if o.Protocol == 0 {
		o.Protocol = DefaultProtocol
	}
	o.ContextTimeoutEnabled = true
	routeLogs.Do(func() { redis.SetLogger(slogLogger{}) })
	if hasPrefix {
		opts = append([]Option{WithPrefix(prefix)}, opts...)
	}
	s := New(redis.NewClient(o), opts...)
	s.owned = true
	return s, nil
}

// routeLogs sends go-redis's own messages (a line per failed dial during an outage, on the standard
// logger by default) to slog at debug level: every failed request is already logged and counted
// by the function with its reason. go-redis has one logger per process, hence once.
var routeLogs sync.Once

type slogLogger struct{}

func (slogLogger) Printf(ctx context.Context, format string, v ...any) {
	slog.DebugContext(ctx, fmt.Sprintf(format, v...), "component", "go-redis")
}

// Close closes the client if Open made it.
func (s *Store) Close() error {
	if !s.owned {
		return nil
	}
	return s.client.Close()
}

// histories is the decoding buffer of one Record, reused.
type histories struct {
	c features.CustomerHistory
	t features.TerminalHistory
}

// Record implements features.Store: one EVALSHA records tx and returns both histories as of tx.
// fn is not called if anything fails.
func (s *Store) Record(ctx context.Context, tx *txn.Transaction, fn func(*features.CustomerHistory, *features.TerminalHistory)) error {
	now := tx.Unix()
	id := features.StableIDHash(tx.ID)
	var crec [customerSize]byte
	var trec [eventSize]byte
	putEvent(crec[:], now, id)
	putAmount(crec[:], tx.Amount)
	putEvent(trec[:], now, id)
	keys := []string{s.key("c:", tx.CustomerID), s.key("t:", tx.TerminalID), s.key("f:", tx.TerminalID)}
	res, err := history.Run(ctx, s.client, keys, "record", now, now-s.cut, crec[:], trec[:], s.ttlMS).Slice()
	if err != nil {
		return fmt.Errorf("redisstore: record transaction %s (customer %d, terminal %d): %w", tx.ID, tx.CustomerID, tx.TerminalID, scriptError(err))
	}
	h := s.pool.Get().(*histories)
	defer s.pool.Put(h)
	if err := h.decode(res); err != nil {
		return fmt.Errorf("redisstore: record transaction %s (customer %d, terminal %d): %w", tx.ID, tx.CustomerID, tx.TerminalID, err)
	}
	fn(&h.c, &h.t)
	return nil
}

// Label implements features.Store.
func (s *Store) Label(ctx context.Context, l txn.Label) error {
	if !l.Fraud {
		return nil
	}
	var rec [eventSize]byte
	t := l.Time.Unix()
	putEvent(rec[:], t, features.StableIDHash(l.TransactionID))
	keys := []string{s.key("f:", l.TerminalID), s.key("t:", l.TerminalID), s.key("c:", l.CustomerID)}
	n, err := history.Run(ctx, s.client, keys, "label", t, rec[:], s.ttlMS).Int64()
	if err != nil {
		return fmt.Errorf("redisstore: label transaction %s (terminal %d): %w", l.TransactionID, l.TerminalID, scriptError(err))
	}
	if n < 0 {
		return fmt.Errorf("redisstore: %w (transaction %q, customer %d, terminal %d)", features.ErrUnknownTransaction, l.TransactionID, l.CustomerID, l.TerminalID)
	}
	return nil
}

// scriptError marks the script's refusal of a malformed history as ErrCorrupt.
func scriptError(err error) error {
	if strings.Contains(err.Error(), "corrupt history") {
		return fmt.Errorf("%w: %w", ErrCorrupt, err)
	}
	return err
}

func (s *Store) key(kind string, id int64) string {
	return s.prefix + kind + strconv.FormatInt(id, 10)
}

func (h *histories) decode(res []any) error {
	if len(res) != 3 {
		return fmt.Errorf("%w: script returned %d histories, want 3", ErrCorrupt, len(res))
	}
	var blobs [3]string
	for i, r := range res {
		b, ok := r.(string)
		if !ok {
			return fmt.Errorf("%w: script returned a %T, want a string", ErrCorrupt, r)
		}
		blobs[i] = b
	}
	var err error
	if h.c.Events, err = decodeCustomer(h.c.Events[:0], blobs[0]); err != nil {
		return err
	}
	if h.t.Events, err = decodeEvents(h.t.Events[:0], blobs[1]); err != nil {
		return err
	}
	h.t.Frauds, err = decodeEvents(h.t.Frauds[:0], blobs[2])
	return err
}
