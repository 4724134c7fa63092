// Package simulate generates card transactions the way the Fraud Detection Handbook's simulator
// does (customer and terminal profiles on a 100×100 grid, Poisson daily counts, three fraud
// scenarios), seeded and deterministic, one day at a time in time order, so that a consumer can
// draw from it at any rate without building a dataset first.
package simulate

import (
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"strconv"
	"time"

	"function/internal/txn"
)

// Handbook defaults (§3.2 of the book).
const (
	DefaultCustomers = 5000
	DefaultTerminals = 10000
	DefaultDays      = 183
	DefaultRadius    = 5.0
)

// DefaultStart is the handbook's first day, 2018-04-01.
var DefaultStart = time.Date(2018, 4, 1, 0, 0, 0, 0, time.UTC)

// Scenario1Amount is scenario 1's rule: every amount above it is a fraud.
const Scenario1Amount = 220.0

// Fraud scenario parameters.
const (
	compromisedTerminals   = 2 // per day (scenario 2)
	terminalCompromiseDays = 28
	compromisedCustomers   = 3 // per day (scenario 3)
	customerCompromiseDays = 14
	scenario3Share         = 1.0 / 3
	scenario3Factor        = 5.0
	secondsPerDay          = 86400
)

// Config describes one simulated world. The zero Config is not valid; start from DefaultConfig.
type Config struct {
	Seed      uint64
	Customers int
	Terminals int
	Days      int // 0 means endless
	Start     time.Time
	Radius    float64 // a customer uses the terminals closer than this
	// AmountScale multiplies every customer's mean (and so standard deviation) amount: a shifted
	// setting for drift tests, e.g. 2 for a population that spends twice as much. 0 means 1, the
	// handbook's; the draws are the same either way, so only the amounts change.
	AmountScale float64
}

// DefaultConfig is the handbook's dataset with the given seed.
func DefaultConfig(seed uint64) Config {
	return Config{Seed: seed, Customers: DefaultCustomers, Terminals: DefaultTerminals, Days: DefaultDays, Start: DefaultStart, Radius: DefaultRadius}
}

func (c Config) validate() error {
	switch {
	case c.Customers <= 0:
		return errors.New("customers must be positive")
	case c.Terminals <= 0:
		return errors.New("terminals must be positive")
	case c.Days < 0:
		return errors.New("days must not be negative")
	case c.Radius <= 0:
		return errors.New("radius must be positive")
	case c.Start.IsZero():
		return errors.New("start must be set")
	case c.AmountScale < 0 || math.IsNaN(c.AmountScale) || math.IsInf(c.AmountScale, 0):
		return errors.New("amount scale must be a positive number (or 0 for 1)")
	}
	return nil
}

type customer struct {
	meanAmount, stdAmount, meanTxPerDay float64
	terminals                           []int32
	rng                                 *rand.Rand
}

// Simulator yields transactions in time order, day after day.
type Simulator struct {
	cfg       Config
	customers []customer
	day       int
	nextID    int64
	buf       []txn.Transaction // the current day, sorted
	pos       int
	// compromised terminal → last day (exclusive) of its compromise; same for customers.
	terminalsUntil map[int64]int
	customersUntil map[int64][]int // one entry per compromise still running
}

// New builds the profiles. It costs O(customers × terminals) once.
func New(cfg Config) (*Simulator, error) {
	if err := cfg.validate(); err != nil {
		return nil, fmt.Errorf("simulate: %w", err)
	}
	s := &Simulator{cfg: cfg, terminalsUntil: map[int64]int{}, customersUntil: map[int64][]int{}}
	prof := rand.New(rand.NewPCG(cfg.Seed, 0x637573746f6d6572)) // "customer"
	type point struct{ x, y float64 }
	cust := make([]point, cfg.Customers)
	s.customers = make([]customer, cfg.Customers)
	for i := range s.customers {
		cust[i] = point{prof.Float64() * 100, prof.Float64() * 100}
		mean := 5 + prof.Float64()*95
		if cfg.AmountScale > 0 {
			mean *= cfg.AmountScale
		}
		s.customers[i] = customer{meanAmount: mean, stdAmount: mean / 2, meanTxPerDay: prof.Float64() * 4,
			rng: rand.New(rand.NewPCG(cfg.Seed, uint64(i)))}
	}
	tprof := rand.New(rand.NewPCG(cfg.Seed, 0x7465726d696e616c)) // "terminal"
	// Bucket terminals by grid cell of side Radius, so each customer looks at 9 cells.
	cell := cfg.Radius
	cells := map[[2]int][]int32{}
	terms := make([]point, cfg.Terminals)
	for i := range terms {
		terms[i] = point{tprof.Float64() * 100, tprof.Float64() * 100}
		k := [2]int{int(terms[i].x / cell), int(terms[i].y / cell)}
		cells[k] = append(cells[k], int32(i))
	}
	r2 := cfg.Radius * cfg.Radius
	for i, c := range cust {
		cx, cy := int(c.x/cell), int(c.y/cell)
		var avail []int32
		for dx := -1; dx <= 1; dx++ {
			for dy := -1; dy <= 1; dy++ {
				for _, t := range cells[[2]int{cx + dx, cy + dy}] {
					ddx, ddy := terms[t].x-c.x, terms[t].y-c.y
					if ddx*ddx+ddy*ddy < r2 {
						avail = append(avail, t)
					}
				}
			}
		}
		slices.Sort(avail)
		s.customers[i].terminals = avail
	}
	return s, nil
}

// Config returns the configuration the simulator runs with.
func (s *Simulator) Config() Config { return s.cfg }

// Next returns the next transaction in time order; false once the last day is done.
func (s *Simulator) Next() (txn.Transaction, bool) {
	for s.pos >= len(s.buf) {
		if s.cfg.Days > 0 && s.day >= s.cfg.Days {
			return txn.Transaction{}, false
		}
		s.generateDay()
	}
	s.pos++
	return s.buf[s.pos-1], true
}

// NextDay returns all transactions of the next day at once, sorted by time. The slice is reused
// by the following call.
func (s *Simulator) NextDay() ([]txn.Transaction, bool) {
	if s.cfg.Days > 0 && s.day >= s.cfg.Days {
		return nil, false
	}
	s.generateDay()
	s.pos = len(s.buf)
	return s.buf, true
}

func (s *Simulator) generateDay() {
	day := s.day
	s.day++
	s.buf = s.buf[:0]
	s.pos = 0
	dayStart := s.cfg.Start.Add(time.Duration(day) * secondsPerDay * time.Second)
	for id := range s.customers {
		c := &s.customers[id]
		n := poisson(c.rng, c.meanTxPerDay)
		for range n {
			sec := int64(c.rng.NormFloat64()*20000 + secondsPerDay/2) // truncates toward zero, as Python's int()
			amount := c.rng.NormFloat64()*c.stdAmount + c.meanAmount
			if amount < 0 {
				amount = c.rng.Float64() * 2 * c.meanAmount
			}
			// The handbook keeps amounts that round to 0.00; a zero amount is a defect our
			// decoders reject, so the smallest simulated amount is one cent.
			amount = max(math.Round(amount*100)/100, 0.01)
			if sec <= 0 || sec >= secondsPerDay || len(c.terminals) == 0 {
				continue
			}
			term := c.terminals[c.rng.IntN(len(c.terminals))]
			s.buf = append(s.buf, txn.Transaction{
				Time:        dayStart.Add(time.Duration(sec) * time.Second),
				CustomerID:  int64(id),
				TerminalID:  int64(term),
				Amount:      amount,
				TimeSeconds: int64(day)*secondsPerDay + sec,
				TimeDays:    int64(day),
			})
		}
	}
	slices.SortStableFunc(s.buf, func(a, b txn.Transaction) int { return int(a.TimeSeconds - b.TimeSeconds) })
	s.addFrauds(day)
	for i := range s.buf {
		s.buf[i].ID = strconv.FormatInt(s.nextID, 10)
		s.nextID++
	}
}

// addFrauds applies the three scenarios in the handbook's order, a later one overwriting the
// scenario of an earlier one. Compromised terminals and customers are drawn uniformly from the
// profiles, as the handbook samples its profile tables.
func (s *Simulator) addFrauds(day int) {
	rng := rand.New(rand.NewPCG(s.cfg.Seed, 0x6672617564<<20|uint64(day))) // "fraud"
	if s.cfg.Days == 0 || day < s.cfg.Days-1 {                             // the handbook loops over range(max day)
		for range compromisedTerminals {
			s.terminalsUntil[int64(rng.IntN(s.cfg.Terminals))] = day + terminalCompromiseDays
		}
		for range compromisedCustomers {
			c := int64(rng.IntN(s.cfg.Customers))
			s.customersUntil[c] = append(s.customersUntil[c], day+customerCompromiseDays)
		}
	}
	for i := range s.buf {
		t := &s.buf[i]
		if t.Amount > Scenario1Amount {
			t.Fraud, t.Scenario = true, 1
		}
		if until, ok := s.terminalsUntil[t.TerminalID]; ok && day < until {
			t.Fraud, t.Scenario = true, 2
		}
		// Each running compromise of the customer picks a third of the transactions in its window.
		for _, until := range s.customersUntil[t.CustomerID] {
			if day < until && rng.Float64() < scenario3Share {
				t.Amount = math.Round(t.Amount*scenario3Factor*100) / 100
				t.Fraud, t.Scenario = true, 3
			}
		}
	}
	for k, until := range s.terminalsUntil {
		if until <= day+1 {
			delete(s.terminalsUntil, k)
		}
	}
	for k, list := range s.customersUntil {
		list = slices.DeleteFunc(list, func(until int) bool { return until <= day+1 })
		if len(list) == 0 {
			delete(s.customersUntil, k)
		} else {
			s.customersUntil[k] = list
		}
	}
}

// poisson draws by Knuth's multiplication method, fine for the small means here (< 4).
func poisson(rng *rand.Rand, lambda float64) int {
	if lambda <= 0 {
		return 0
	}
	l := math.Exp(-lambda)
	k, p := 0, 1.0
	for {
		p *= rng.Float64()
		if p <= l {
			return k
		}
		k++
	}
}
