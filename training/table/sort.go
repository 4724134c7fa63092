package main

import (
	"slices"

	"function/internal/txn"
)

func sortByTime(all []txn.Transaction) {
	slices.SortStableFunc(all, func(a, b txn.Transaction) int { return a.Time.Compare(b.Time) })
}
