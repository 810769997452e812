package main

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/pipe-dev/pipe/bpe"
	"github.com/pipe-dev/pipe/gpu"
	"github.com/pipe-dev/pipe/trainer"
	"github.com/spf13/cobra"
)

func newSample() *cobra.Command {
	var (
		ckpt, prompt, device string
		ids                  bool
		sc                   trainer.SampleConfig
	)
	c := &cobra.Command{
		Use:   "sample --ckpt DIR [--prompt TEXT]",
		Short: "Generate text from a checkpoint",
		Long: `sample loads a checkpoint (model.safetensors and config.json, as "pipe train"
writes them) and continues --prompt by --max-tokens tokens, written to stdout as
they come. The prompt is encoded, and the output decoded, with the checkpoint's
tokenizer.json; without one (or with --ids) the prompt is token ids separated by
spaces and the output is ids. A checkpoint of "pipe train --task sort" also
takes its prompt as the letters A, B, C (tokens 0, 1, 2). An empty prompt starts
from the end-of-text token.

--temperature 0 takes the most likely token each time; otherwise tokens are
drawn from the softmax of the logits divided by the temperature, among the
--top-k most likely (0: all), with --seed. Each layer's keys and values are
kept (a KV cache), so a token costs one row of every layer; past the model's
context the cache restarts from the last half of it. With --device cuda (or
auto, when a GPU is there) the model, its cache and every layer run on the GPU;
only each token's logits come back.`,
		Example: `  pipe sample --ckpt run1/ckpt-2000 --prompt "The shard" --max-tokens 50 --top-k 40
  pipe sample --ckpt sort-run/ckpt-2000 --prompt "2 0 1 1 0 2" --max-tokens 6 --temperature 0
  pipe sample --ckpt sort-run/ckpt-2000 --prompt CABBAC --max-tokens 6 --temperature 0`,
		Args: cobra.NoArgs,
		RunE: func(c *cobra.Command, args []string) (err error) {
			if ckpt == "" {
				return usagef("sample: --ckpt DIR is required")
			}
			defer gpu.Recover(&err) // a failed CUDA call is an error, not a crash
			if sc.Temperature < 0 || sc.TopK < 0 || sc.Tokens < 0 {
				return usagef("sample: --temperature, --top-k and --max-tokens must not be negative")
			}
			be, desc, _, err := gpu.Select(device)
			if err != nil {
				return usagef("sample: %v", err)
			}
			slog.Debug("device", "backend", desc)
			inf, err := loadInference(ckpt, ids, be)
			if err != nil {
				return err
			}
			start, err := inf.encode(prompt)
			if err != nil {
				return usagef("sample: %v", err)
			}
			if len(start) == 0 {
				if inf.hf.EOS == nil {
					return usagef("sample: the model has no end-of-text token to start from: give --prompt")
				}
				start = []int32{int32(*inf.hf.EOS)}
			}
			w := bufio.NewWriter(c.OutOrStdout())
			if inf.tok != nil {
				fmt.Fprint(w, prompt)
			}
			sc.Vocab = inf.vocab
			err = inf.m.Sample(start, sc, func(id int32) error {
				if inf.tok != nil {
					b, err := inf.tok.DecodeToken(uint32(id))
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
	f.StringVar(&device, "device", "auto", "backend: cpu, cuda (NVIDIA GPU 0), or auto (cuda when a GPU is there, else cpu)")
	f.BoolVar(&ids, "ids", false, "prompt and output as token ids, even where the checkpoint has a tokenizer")
	f.IntVar(&sc.Tokens, "max-tokens", 100, "tokens to generate")
	f.IntVar(&sc.Tokens, "tokens", 100, "same as --max-tokens")
	f.MarkHidden("tokens")
	f.Float64Var(&sc.Temperature, "temperature", 1, "softmax temperature; 0 takes the most likely token")
	f.IntVar(&sc.TopK, "top-k", 0, "draw among the K most likely tokens only (0: all)")
	f.Uint64Var(&sc.Seed, "seed", 1, "random seed")
	return c
}

// sortSymbols are the sort task's tokens 0, 1, 2 as minGPT's demo and the in-browser
// visualization write them.
const sortSymbols = "ABC"

// inference is a checkpoint loaded for sampling or inspection.
type inference struct {
	m    *trainer.Model
	hf   trainer.HFConfig
	tok  *bpe.Tokenizer // the checkpoint's tokenizer.json; nil: prompts are ids
	sort bool           // a checkpoint of --task sort: tokens are also the letters of sortSymbols
	// vocab is what samples stay below where the model's vocabulary is padded past the data's
	// (pipe train --pad-vocab), else 0
	vocab int
}

// loadInference loads the model of checkpoint ckpt on be, with its tokenizer unless ids.
func loadInference(ckpt string, ids bool, be trainer.Backend) (*inference, error) {
	cfg, hf, err := trainer.ConfigFromHF(filepath.Join(ckpt, "config.json"))
	if err != nil {
		return nil, err
	}
	m, err := trainer.New(cfg, be)
	if err != nil {
		return nil, err
	}
	if err := m.LoadWeights(filepath.Join(ckpt, "model.safetensors")); err != nil {
		return nil, err
	}
	inf := &inference{m: m, hf: hf}
	if !ids {
		inf.tok, err = bpe.Load(filepath.Join(ckpt, "tokenizer.json"), "")
		if errors.Is(err, fs.ErrNotExist) {
			inf.tok, err = nil, nil
		}
		if err != nil {
			return nil, err
		}
	}
	// state.json, where "pipe train" wrote one, says which task made the checkpoint
	if _, err := os.Stat(filepath.Join(ckpt, "state.json")); err == nil {
		st, err := trainer.ReadState(ckpt)
		if err != nil {
			return nil, err
		}
		var s trainSettings
		if err := json.Unmarshal(st.Run, &s); err != nil {
			return nil, fmt.Errorf("%s/state.json: run settings: %w", ckpt, err)
		}
		inf.sort = s.Task == "sort" && cfg.VocabSize == len(sortSymbols)
		inf.vocab = s.DataVocab
	}
	if inf.vocab == 0 && inf.tok != nil && inf.tok.VocabSize() < cfg.VocabSize {
		inf.vocab = inf.tok.VocabSize()
	}
	return inf, nil
}

// encode turns a prompt into tokens: text through the tokenizer, or token ids separated by
// spaces, or for the sort task letters of sortSymbols ("CABBAC", "C A B B A C"). "" is none.
func (inf *inference) encode(prompt string) ([]int32, error) {
	V := inf.m.Config.VocabSize
	var out []int32
	switch {
	case prompt == "":
	case inf.tok != nil:
		for _, id := range inf.tok.EncodeOrdinary([]byte(prompt)) {
			out = append(out, int32(id))
		}
	case inf.sort && strings.Trim(strings.ToUpper(prompt), sortSymbols+" ") == "":
		for _, r := range strings.ToUpper(prompt) {
			if i := strings.IndexRune(sortSymbols, r); i >= 0 {
				out = append(out, int32(i))
			}
		}
	default:
		for _, f := range strings.Fields(prompt) {
			id, err := strconv.ParseUint(f, 10, 32)
			if err != nil || int(id) >= V {
				if inf.sort {
					return nil, fmt.Errorf("prompt token %q: want an id below %d or a letter of %s", f, V, sortSymbols)
				}
				return nil, fmt.Errorf("prompt token %q: want an id below %d", f, V)
			}
			out = append(out, int32(id))
		}
	}
	return out, nil
}

// label is how token id reads: its bytes quoted, a letter of the sort task, or its id.
func (inf *inference) label(id int32) string {
	switch {
	case inf.tok != nil:
		b, err := inf.tok.DecodeToken(uint32(id))
		if err != nil {
			return strconv.Itoa(int(id))
		}
		return strconv.Quote(string(b))
	case inf.sort && int(id) < len(sortSymbols):
		return sortSymbols[id : id+1]
	}
	return strconv.Itoa(int(id))
}
