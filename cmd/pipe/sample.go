package main

import (
	"bufio"
	"errors"
	"fmt"
	"io/fs"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/pipe-dev/pipe/bpe"
	"github.com/pipe-dev/pipe/trainer"
	"github.com/spf13/cobra"
)

func newSample() *cobra.Command {
	var (
		ckpt, prompt string
		ids          bool
		sc           trainer.SampleConfig
	)
	c := &cobra.Command{
		Use:   "sample --ckpt DIR [--prompt TEXT]",
		Short: "Generate text from a checkpoint",
		Long: `sample loads a checkpoint (model.safetensors and config.json, as "pipe train"
writes them) and continues --prompt by --tokens tokens, written to stdout as
they come. The prompt is encoded, and the output decoded, with the checkpoint's
tokenizer.json; without one (or with --ids) the prompt is token ids separated by
spaces and the output is ids. An empty prompt starts from the end-of-text token.

--temperature 0 takes the most likely token each time; otherwise tokens are
drawn from the softmax of the logits divided by the temperature, among the
--top-k most likely (0: all), with --seed. Each layer's keys and values are
kept (a KV cache), so a token costs one row of every layer; past the model's
context the cache restarts from the last half of it.`,
		Example: `  pipe sample --ckpt run1/ckpt-2000 --prompt "The shard" --tokens 50 --top-k 40
  pipe sample --ckpt sort-run/ckpt-2000 --prompt "2 0 1 1 0 2" --tokens 6 --temperature 0`,
		Args: cobra.NoArgs,
		RunE: func(c *cobra.Command, args []string) error {
			if ckpt == "" {
				return usagef("sample: --ckpt DIR is required")
			}
			if sc.Temperature < 0 || sc.TopK < 0 || sc.Tokens < 0 {
				return usagef("sample: --temperature, --top-k and --tokens must not be negative")
			}
			cfg, hf, err := trainer.ConfigFromHF(filepath.Join(ckpt, "config.json"))
			if err != nil {
				return err
			}
			m, err := trainer.New(cfg, trainer.NewCPU())
			if err != nil {
				return err
			}
			if err := m.LoadWeights(filepath.Join(ckpt, "model.safetensors")); err != nil {
				return err
			}
			var tok *bpe.Tokenizer
			if !ids {
				tok, err = bpe.Load(filepath.Join(ckpt, "tokenizer.json"), "")
				if errors.Is(err, fs.ErrNotExist) {
					tok, err = nil, nil
				}
				if err != nil {
					return err
				}
			}
			var start []int32
			switch {
			case prompt == "":
				if hf.EOS == nil {
					return usagef("sample: the model has no end-of-text token to start from: give --prompt")
				}
				start = []int32{int32(*hf.EOS)}
			case tok != nil:
				for _, id := range tok.EncodeOrdinary([]byte(prompt)) {
					start = append(start, int32(id))
				}
			default:
				for _, f := range strings.Fields(prompt) {
					id, err := strconv.ParseUint(f, 10, 32)
					if err != nil || int(id) >= cfg.VocabSize {
						return usagef("sample: prompt token %q: want an id below %d", f, cfg.VocabSize)
					}
					start = append(start, int32(id))
				}
			}
			w := bufio.NewWriter(c.OutOrStdout())
			if tok != nil {
				fmt.Fprint(w, prompt)
			}
			err = m.Sample(start, sc, func(id int32) error {
				if tok != nil {
					b, err := tok.DecodeToken(uint32(id))
					if err != nil {
						return err
					}
					w.Write(b)
				} else {
					fmt.Fprintf(w, "%d ", id)
				}
				return w.Flush()
			})
			fmt.Fprintln(w)
			if ferr := w.Flush(); err == nil {
				err = ferr
			}
			return err
		},
	}
	f := c.Flags()
	f.StringVar(&ckpt, "ckpt", "", "checkpoint directory")
	f.StringVar(&prompt, "prompt", "", "text to continue (token ids with --ids)")
	f.BoolVar(&ids, "ids", false, "prompt and output as token ids, even where the checkpoint has a tokenizer")
	f.IntVar(&sc.Tokens, "max-tokens", 100, "tokens to generate")
	f.IntVar(&sc.Tokens, "tokens", 100, "same as --max-tokens")
	f.MarkHidden("tokens")
	f.Float64Var(&sc.Temperature, "temperature", 1, "softmax temperature; 0 takes the most likely token")
	f.IntVar(&sc.TopK, "top-k", 0, "draw among the K most likely tokens only (0: all)")
	f.Uint64Var(&sc.Seed, "seed", 1, "random seed")
	return c
}
