package main

import (
	"bytes"
	"context"
	"testing"
)

func TestUsageErrors(t *testing.T) {
	for name, args := range map[string][]string{
		"unknown flag":   {"-nope"},
		"extra argument": {"x"},
		"missing model":  {"-model", "/nonexistent"},
	} {
		t.Run(name, func(t *testing.T) {
			if err := run(context.Background(), args, &bytes.Buffer{}); err == nil {
				t.Error("want an error")
			}
		})
	}
}
