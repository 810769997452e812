// Command pipe turns web pages into a trained language model, one Unix-style
// stage at a time: crawl | clean | bpe | shard, then train.
//
// This file only wires the subcommands and maps errors to exit codes; each
// subcommand lives in its own file with its own flags.
package main

import (
	"errors"
	"fmt"
	"os"

	"github.com/spf13/cobra"
)

// usageError marks a bad command line: exit code 2 instead of 1.
type usageError struct{ err error }

func (e usageError) Error() string { return e.err.Error() }
func (e usageError) Unwrap() error { return e.err }

func usagef(format string, a ...any) error { return usageError{fmt.Errorf(format, a...)} }

func newRoot() *cobra.Command {
	root := &cobra.Command{
		Use:   "pipe",
		Short: "Turn web pages into a trained language model",
		Long: `pipe turns web pages into a trained language model, one stage at a time:

  pipe crawl --seeds seeds.txt | pipe clean | pipe bpe --vocab-size 32768 --out tok.json | pipe shard --out data/
  pipe train --data data/ --model gpt2 --context 1024

Every stage reads stdin and writes stdout when no path is given; progress and
errors go to stderr.`,
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	root.SetFlagErrorFunc(func(c *cobra.Command, err error) error { return usageError{err} })
	root.AddCommand(newBPE())
	root.AddCommand(newShard())
	root.AddCommand(newCrawl())
	root.AddCommand(newClean())
	root.AddCommand(newTrain())
	root.AddCommand(newSample())
	root.AddCommand(newInspect())
	return root
}

func main() {
	err := newRoot().Execute()
	if err == nil {
		return
	}
	fmt.Fprintln(os.Stderr, "pipe:", err)
	var ue usageError
	if errors.As(err, &ue) {
		os.Exit(2)
	}
	os.Exit(1)
}
