package main

import (
	"slices"

	"github.com/fraud-detector/fraud-detector/internal/txn"
)

func sortByTime(all []txn.Transaction) {
	slices.SortStableFunc(all, func(a, b txn.Transaction) int { return a.Time.Compare(b.Time) })
}
