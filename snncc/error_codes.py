"""The catalog of diagnostic codes: every code snncc reports, with what it means.

`snncc errors` prints it with each code's error class and exit status, which come from the one
hierarchy in snncc/errors.py: a code belongs to the SnnccError subclass whose default code has the
same three-letter prefix.  tests/unit/test_error_codes.py checks that every code written in the
source is listed here and that every code listed here is still used, so a new code fails the tests
until it has a line below.
"""

from __future__ import annotations

from dataclasses import dataclass

from snncc.errors import EXIT_OK, SnnccError

# reported and the compile goes on (exit 0); `--strict` turns them into STR001
WARNINGS = frozenset({"IMT050", "IMT051", "IMT213", "MAP030", "QNT020", "QNT021", "QNT022", "QNT023", "VER010"})

MEANINGS: dict[str, str] = {
    # added with issues 14, 15 and 17
    "BKD040": "the nengo-loihi emulator cannot run a layer (a feature Loihi 1 lacks: soft reset, floor, initial state, CLIF, graded input)",
    "BKD041": "SANA-FE cannot hold the network (current memory, graded input or recurrent synapses)",
    "BKD042": "the target is not modelled by the bit-exact backend asked for (--backend)",
    "BKD043": "rockpool's XyloSim (the xylo target's oracle) is not installed or cannot be imported",
    "DAT013": "--min-agreement is NaN or outside [0, 1]",
    "DAT014": "labels outside the model's output classes",
    "DAT015": "complex-valued data (the imaginary part would be dropped)",
    "DAT016": "--max-accuracy-drop is NaN or outside [0, 100] percentage points",
    "DAT040": "simulate: no --data and the artifact records no data file that is still there",
    "DAT041": "simulate: the data file the artifact was compiled with changed since (its sha256 differs)",
    "DAT032": "--dump-after names no pass of the pipeline, or one the run skips",
    "DAT033": "the command line does not parse (with --json: the error object beside argparse's usage message)",
    "DAT031": "--dask-scheduler is not an address, or the scheduler cannot be reached",
    "GRF008": "a layer name holds control characters (terminal or Markdown injection)",
    "GRF009": "a bias of the wrong shape for its layer",
    "GRF055": "an int_partial_sum whose largest possible sum does not fit its graded payload",
    "GRF056": "two parts of a split layer read the same inputs (they would be counted twice)",
    "GRF054": "an input encoding that does not exist in the graph's numerics family (events on Loihi, planes on Xylo)",
    "GRF064": "a graph.json field of the wrong type or out of range",
    "IMT015": "a module contains itself",
    "IMT016": "a layer torch itself could not run (stride or kernel 0, a bias or weight of the wrong shape)",
    "IMT017": "complex-valued weights in the model",
    "IMT019": "a module lacks an attribute its class defines (a damaged or edited model file)",
    "IMT018": "a norse, sinabs or rockpool model given as torch modules (snncc reads them through their NIR export)",
    "IMT050": "--steps or --readout override what the model's forward fixes",
    "IMT051": "an encoder called inside the model's time loop is taken as the input coding",
    "LIM001": "an input declares more elements than --max-elements allows",
    "LIM002": "more steps per sample than --max-steps allows",
    "LIM003": "--max-elements or --max-steps below 1",
    "LIM004": "snncc ran out of memory (an input larger than the checks before each allocation foresaw)",
    "LOD016": "a weights-only file calls a layer's constructor instead of storing its weights (a memory bomb)",
    "LOD017": "complex tensors in the state dict",
    "LOD018": "the model's code exited (SystemExit) while snncc ran it",
    "LOD019": "a state dict holds bool or integer tensors where the model has floats (they would be cast silently)",
    "LOD103": "ONNX external weights outside the model's folder (absolute path, '..' or a symbolic link)",
    "LOD230": "an HDF5 file reaches outside itself (external storage, external or soft link, virtual dataset)",
    "MAP006": "a layer's fan-in cannot be split across cores as needed (payload, weight pipeline, or a path it would delay)",
    "MAP050": "the network does not fit one Xylo core's fixed pools (chain of layers, one shift per matrix)",
    "OUT005": "--out is, or holds, an input file, the current folder or the home folder",
    "OUT007": "another run wrote the output directory meanwhile",
    "QNT030": "a synaptic current decay with no Xylo bit-shift form",
    "QNT031": "a neuron feature Xylo lacks (hard reset, voltage floor, initial state)",
    "QNT032": "an op Xylo cannot run (convolutions; Xylo connects neurons by weight matrices only)",
    "TGT008": "a target number outside what the tools compute with, or control characters in its text",
    "SNN000": "an snncc error without a more specific code",
    # FTN: snncc finetune (issue 26)
    "FTN001": "finetune: the training or test data has no labels y, or too few samples to train on",
    "FTN002": "finetune: a target whose integer formats fine-tuning cannot train through (xylo)",
    "FTN003": "finetune: a layer fine-tuning cannot train (CLIF)",
    "VER010": "the named approximations cost more than 3 points of accuracy (snncc finetune recovers them)",
    # BKD: backends (executors)
    "BKD001": "Lava (lava-nc) is not installed or cannot be imported",
    "BKD002": "two installed packages register a backend under the same name",
    "BKD003": "unknown backend name",
    "BKD004": "Lava needs a multiprocessing start method other than the one this process already uses",
    "BKD010": "paths of different lengths from the input reach a layer, which Lava cannot run in step",
    "BKD020": "floatsim was given a graph of the integer stage (it runs float and canonical graphs)",
    "BKD021": "a recording asks for layers that are not neuron layers of the graph",
    "BKD022": "floatsim cannot run the graph's structure (an output not reading one neuron layer, an op "
    "without its input)",
    "BKD023": "no input array given for one of the graph's inputs",
    "BKD024": "the input array's shape is neither (batch, *shape) nor (batch, steps, *shape)",
    "BKD030": "unknown torch device for --device",
    "BKD031": "--device asks for a GPU that torch does not see",
    # DAT: input data, run settings and files named on the command line
    "DAT001": "input data is missing, malformed, or does not match the model",
    "DAT002": "the data file does not exist",
    "DAT003": "the data file cannot be read as .npz (or x.npy/y.npy)",
    "DAT004": "the data file has no array 'x'",
    "DAT005": "'x' is not a numeric array of shape (N, *input_shape)",
    "DAT006": "the data file holds no samples",
    "DAT007": "'x' holds NaN or infinite values",
    "DAT008": "the samples' shape does not fit the model's input",
    "DAT009": "'y' is not integer labels, one per sample",
    "DAT010": "no --data given and the bundled digits data is not installed",
    "DAT011": "no --data given and the model does not take the bundled 8x8 digits",
    "DAT012": "a count (time steps, --samples, --workers, ...) is below 1",
    "DAT020": "the folder is not a compiled artifact (no graph.json)",
    "DAT021": "the export's output file exists (pass --force to replace it)",
    "DAT022": "the export's output folder does not exist",
    "DAT023": "integer input values lie outside the input's bit range",
    "DAT024": "no samples given for an integer input",
    "DAT030": "--dask-scheduler needs the 'distributed' package",
    "DAT101": "unknown --shift or --reset for conversion, or a percentile outside (0, 100]",
    # GRF: the graph breaks an IR invariant (ir/SPEC.md)
    "GRF001": "an edge or a lookup names a node that does not exist",
    "GRF002": "a node name is empty, not a string, or used twice",
    "GRF003": "an op has the wrong number of inputs",
    "GRF004": "shapes do not fit: an op cannot take its input's shape, or its declared shape differs",
    "GRF005": "unknown readout of an output",
    "GRF006": "a cycle without a synapse op or without a neuron layer",
    "GRF007": "a recurrent loop through several neuron layers, or one that also feeds other ops",
    "GRF010": "the graph is at another stage than the pass expects",
    "GRF011": "the graph's number of time steps is below 1",
    "GRF012": "an op not allowed at the graph's stage",
    "GRF013": "the graph has no input or no output",
    "GRF020": "a parameter array is not numeric",
    "GRF021": "a parameter array holds NaN or infinite values",
    "GRF022": "batch-norm variance + eps not positive, or a window (kernel, stride, dilation, groups, padding) out of range",
    "GRF023": "a neuron's threshold is not above its reset potential",
    "GRF024": "a decay factor (beta or alpha) outside [0, 1]",
    "GRF025": "unknown fire rule or reset of a neuron layer",
    "GRF026": "a CLIF layer without reset 'subtract', fire '>=', alpha 0 and no floor, or m_tau not positive",
    "GRF030": "a synapse op does not read exactly one input or neuron layer",
    "GRF031": "a canonical synapse op carries a bias",
    "GRF032": "a synapse op does not feed a neuron layer, or a neuron layer reads something else",
    "GRF040": "an output does not read a neuron layer",
    "GRF041": "a spike readout of a layer that never spikes",
    "GRF050": "an integer graph without numerics in its metadata",
    "GRF051": "an integer op's parameter array does not hold integers",
    "GRF052": "an integer input's width is outside 1..31 bits",
    "GRF053": "an integer parameter lies outside its format's range",
    "GRF060": "the file is not an snncc graph document",
    "GRF061": "the graph document names an unknown op",
    "GRF062": "the graph document is malformed",
    "GRF063": "a file of the compiled graph is missing or unreadable",
    # IMT: the model uses layers or settings snncc cannot import
    "IMT001": "the model cannot be imported",
    "IMT002": "unsupported torch module",
    "IMT003": "unsupported setting of a supported layer",
    "IMT004": "unsupported operation in a model's forward",
    "IMT005": "time steps, readout or --nir-from missing or invalid",
    "IMT006": "the forward's order of layers or its time loop cannot be determined",
    "IMT007": "the forward's output is not the last layer's spikes at every step",
    "IMT008": "bad arguments to the Python API (not an nn.Module, a bad input shape)",
    "IMT009": "an ONNX file given to compile: an ANN is converted with `snncc convert`",
    "IMT010": "a batch norm that does not directly follow a conv or linear layer",
    "IMT011": "two consecutive linear layers that cannot be fused into one synapse",
    "IMT012": "an output that does not read a neuron layer",
    "IMT013": "a synapse bias into a current without decay (alpha = 1), which grows without bound",
    "IMT014": "a layer reads the analog input directly next to deeper branches, which relays cannot delay",
    "IMT020": "a KLIF k that gives no deployable voltage decay",
    "IMT021": "an IMP neuron's learned initial potential has another shape than its input",
    "IMT030": "unknown --approximate name",
    "IMT101": "unsupported ONNX operator, or no Conv/Gemm/MatMul layer to convert",
    "IMT102": "unsupported setting of a supported ONNX operator",
    "IMT103": "a join of branches snncc cannot sum (not an Add, or an Add not followed by a Relu)",
    "IMT104": "an ONNX model without exactly one input and one output, or with a dead branch",
    "IMT105": "an ONNX weight computed at run time instead of stored",
    "IMT201": "unsupported netx block type",
    "IMT202": "unsupported netx neuron or setting",
    "IMT203": "netx weights, biases or neuron parameters that are not integers",
    "IMT204": "inconsistent netx network structure or shapes",
    "IMT205": "bad arguments to the netx reader (readout, input bits)",
    "IMT210": "unsupported NIR node",
    "IMT211": "unsupported setting of a supported NIR node",
    "IMT212": "a NIR graph without exactly one Input and one Output node",
    "IMT213": "NIR IF nodes with r = 1 at a --dt other than 1: each step adds dt·x to v",
    # LOD: the model file cannot be read safely
    "LOD001": "the model file cannot be read",
    "LOD002": "the model file needs classes outside the allowlist: loading it could run code (--allow-pickle)",
    "LOD003": "the model file does not exist",
    "LOD004": "not a readable torch file (truncated or corrupt)",
    "LOD005": "the model file needs a class defined in the training script's __main__",
    "LOD006": "the file holds a state dict, which needs --arch for the architecture",
    "LOD007": "the file holds something other than a torch.nn.Module",
    "LOD008": "the model file needs a module that cannot be imported here",
    "LOD010": "--arch is not MODULE:CLASS",
    "LOD011": "the --arch module cannot be found or fails to import",
    "LOD012": "the --arch module has no such class, or it is not a torch.nn.Module",
    "LOD013": "the --arch class needs constructor arguments, or its constructor fails",
    "LOD014": "--arch given, but the file holds pickled objects rather than a state dict",
    "LOD015": "the state dict does not fit the --arch model (missing, unexpected or reshaped entries)",
    "LOD101": "not a readable ONNX model",
    "LOD102": "the ONNX model's external weights file is missing",
    "LOD201": "not a readable HDF5 file",
    "LOD202": "the HDF5 file is damaged or not a netx network",
    "LOD210": "the file cannot be read as a NIR graph",
    # MAP: the network does not fit the target
    "MAP001": "the target cannot receive the input's encoding",
    "MAP002": "a layer needs a neuron feature the target lacks (see --approximate)",
    "MAP003": "one neuron needs more input axons than a core has",
    "MAP004": "one neuron's synapses need more memory than a core has",
    "MAP005": "the network has more neurons than the target holds",
    "MAP010": "no block of a layer fits one core",
    "MAP012": "a core needs more output axons than it has",
    "MAP013": "the network needs more cores than the target has",
    "MAP020": "the target cannot receive the requested --input-encoding",
    "MAP030": "mapping relies on per-core limits marked uncertain",
    "MAP040": "a placement puts an unknown layer on a core",
    "MAP041": "a placement leaves neurons unplaced or places them twice",
    "MAP042": "a placement exceeds a per-core limit",
    "MAP043": "a placement puts a core on the wrong chip",
    "MAP044": "a placement uses more cores than the target has",
    "MAP051": "a netx network (Lava's Loihi LIF) compiled for a target of another numerics family",
    "MAP101": "the conversion's --reset or --shift needs a neuron feature the target lacks",
    # OUT: the output cannot be written
    "OUT001": "the output cannot be written",
    "OUT002": "the output directory exists (pass --force to replace it)",
    "OUT003": "the output path exists and is not a directory",
    "OUT004": "the output directory's parent cannot be created or is not writable",
    "OUT201": "netx export: a CLIF layer (netx holds CUBA LIF only)",
    "OUT202": "netx export: a neuron setting netx cannot hold",
    "OUT203": "netx export: biases off netx's fixed 2^6 grid",
    "OUT204": "netx export: weights that need a weight exponent",
    "OUT205": "netx export: an input encoding netx cannot feed",
    "OUT206": "netx export: numerics other than Lava's LIF",
    "OUT207": "netx export: not a chain with one input and one output",
    "OUT208": "the netx file cannot be written",
    "OUT301": "NIR export: a layer NIR cannot hold",
    "OUT302": "NIR export: a batch norm that cannot be folded (NIR has no batch norm)",
    "OUT303": "the NIR file cannot be written",
    # QNT: values the target's integer formats cannot represent
    "QNT001": "a value cannot be represented in the target's integer formats",
    "QNT010": "negative input values for an input encoding that carries unsigned values only",
    "QNT011": "no usable quantization scale for a layer",
    "QNT020": "calibrated potentials reach beyond the voltage range: v will saturate",
    "QNT021": "a layer's weights use only a few bits of their format",
    "QNT022": "a negative weight exponent: Lava floors each step's sum, Loihi 1 each weight, a split layer each part",
    "QNT023": "the scored samples reach outside the calibrated input range: values are clipped on the chip",
    # TGT: target descriptions
    "TGT001": "a target description is malformed or unknown",
    "TGT002": "the target file does not exist",
    "TGT003": "unknown target name (see `snncc targets`)",
    "TGT004": "the target file is not valid YAML (duplicate keys included)",
    "TGT005": "the target file is not a YAML mapping",
    "TGT006": "the target file breaks the target schema (targets/schema/target.schema.json)",
    "TGT007": "the target's values contradict each other (exponent ranges, bit widths, mesh size)",
    # STR, VER
    "STR001": "--strict and the compile raised warnings",
    "VER001": "the deployed network disagrees with the float model beyond tolerance",
}


@dataclass(frozen=True)
class CodeInfo:
    code: str
    error_class: str
    exit_status: int
    warning: bool
    meaning: str


def error_classes() -> dict[str, type[SnnccError]]:
    """prefix -> the SnnccError class whose default code has it (SNN for the base class)."""
    classes: dict[str, type[SnnccError]] = {}
    todo = [SnnccError]
    while todo:
        cls = todo.pop()
        classes.setdefault(cls.default_code[:3], cls)
        todo.extend(cls.__subclasses__())
    return classes


def catalog() -> list[CodeInfo]:
    classes = error_classes()
    rows = []
    for code, meaning in sorted(MEANINGS.items()):
        cls = classes[code[:3]]
        warning = code in WARNINGS
        rows.append(CodeInfo(code, cls.__name__, EXIT_OK if warning else cls.exit_code, warning, meaning))
    return rows
