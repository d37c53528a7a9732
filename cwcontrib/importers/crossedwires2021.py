"""What the original CrossedWires release (Zvyagin et al., 2021) says about its three sweeps, as data.

Each fact names its source: the paper (arXiv:2108.12768), the release repository (maxzvyagin/crossedwires, its
W&B exports) or the training code it points to (maxzvyagin/cross_framework_hpo). What none of them records is
left out (CUDA and cuDNN versions, drivers, CPUs, per-run wall times), never guessed.
"""

from __future__ import annotations

from typing import Any

STUDY = "crossedwires-2021"
LICENSE = "GPL-3.0-only"  # the release repository's LICENSE (GNU GPL version 3), which ships the exports
PAPER_DOI = "10.48550/arXiv.2108.12768"
PAPER_CITATION = ("Zvyagin, Brettin, Ramanathan, Jha. CrossedWires: A Dataset of Syntactically Equivalent but "
                  "Semantically Disparate Deep Learning Models. arXiv:2108.12768, 2021.")
RELEASE_URL = "https://github.com/maxzvyagin/crossedwires"
TRAINING_CODE_URL = "https://github.com/maxzvyagin/cross_framework_hpo"

# Table 1 of the paper: the HyperSpace search bounds. (The training code's standard.json bounds batch_size at
# 1,000; the exports stay within both.)
SEARCH_SPACE: dict[str, dict[str, float]] = {
    "learning_rate": {"low": 1.0e-8, "high": 0.1},
    "epochs": {"low": 1, "high": 50},
    "optimizer.epsilon": {"low": 1.0e-8, "high": 1.0},
    "batch_size": {"low": 10, "high": 10000},
}

# Per architecture: the reference-registry name, the definitions the training code used, the modifications
# that make cwcontrib's trusted reference the model the code built, and that reference's parameter count at
# 32x32x3 with 10 classes (the count of the declared architecture, not a measurement of the lost weights).
ARCHITECTURES: dict[str, dict[str, Any]] = {
    "vgg16": {
        "title": "VGG16",
        "parameter_count": 33_638_218,
        "pytorch": ("cross_framework_hpo.vgg16.updated_torchvision_vgg.vgg16 (torchvision's VGG16 with Keras' head "
                    "shape and torchvision's dropout)", ["avgpool-and-classifier-removed"]),
        "tensorflow": ("keras.applications.VGG16", []),
    },
    "resnet50": {
        "title": "ResNet50",
        # torchvision's count; Keras' ResNet50 has 26,560 more (biased convolutions): the pair verdict names it
        "parameter_count": 23_528_522,
        "pytorch": ("torchvision.models.resnet50", []),
        "tensorflow": ("keras.applications.ResNet50", []),
    },
    "densenet121": {
        "title": "DenseNet121",
        "parameter_count": 6_964_106,
        "pytorch": ("torchvision.models.densenet121", []),
        "tensorflow": ("keras.applications.DenseNet121", []),
    },
}

DESCRIPTION = (
    "The original CrossedWires release's {title} sweep on CIFAR-10, imported from its Weights & Biases export "
    "({source}) by `cwcontrib import wandb`. Results only: the original weights (pickles on Google Cloud Storage, "
    "without checksums) are not available, so no accuracy here can be re-evaluated. PyTorch accuracies are means "
    "of per-batch accuracies (PyTorch Lightning's test loop with the trial's batch size), so most are not k/10,000 "
    "(declared as accuracy_measure); TensorFlow's come from model.evaluate and are k/N. Trials were chosen by a "
    "search that maximised |acc_PyTorch - acc_TensorFlow|: their divergence describes a search for disagreement, "
    "not the hyperparameter space. Framework versions are the training code's requirements.txt pins (the export "
    "records none); CUDA and cuDNN versions, drivers and CPUs were not recorded and are left out. The release's "
    "README licenses the weights dataset as CC-BY-4.0; these exports are files of its GPL-3.0 repository. "
    "import-report.json lists every dropped column and every oddity of the export."
)

SWEEP = {
    "method": "bayesian",
    "objective": "maximise |acc_pytorch - acc_tensorflow| (the W&B metric accuracy_diff, mode max)",
    "tool": "HyperSpace over Ray Tune (SpaceRay), Gaussian-process search in overlapping subspaces",
}

FRAMEWORKS: dict[str, dict[str, Any]] = {
    # Versions: cross_framework_hpo's requirements.txt (torch==1.6.0, tensorflow==2.4.0).
    "pytorch": {"name": "pytorch", "version": "1.6.0", "accuracy_measure": "mean-of-batch-accuracies"},
    "tensorflow": {"name": "tensorflow", "version": "2.4.0", "accuracy_measure": "k-over-n"},
}

HARDWARE = {
    "accelerator": "NVIDIA V100",
    # The training code trains each framework on GPU 0 of its Ray worker (pl.Trainer(gpus=[0])).
    "accelerator_count": 1,
    "host": "nodes of 8 NVIDIA V100 GPUs (the paper)",
}

DATASET = {
    "name": "cifar10",
    "version": "CIFAR-10 as torchvision.datasets.CIFAR10 and keras.datasets.cifar10 load it",
    "split": "test",
    "test_size": 10000,
    "preprocessing": {
        "rescale": 1 / 255,
        "shuffle_test": False,
        "description": "Pixels scaled to [0, 1] (torchvision ToTensor; Keras x / 255.0), no mean/std "
                       "normalisation, no augmentation, no shuffling (training code).",
    },
}

HYPERPARAMETERS = {
    "optimizer": {"name": "adam"},
    "loss": "cross_entropy",  # nn.CrossEntropyLoss on logits; Keras SparseCategoricalCrossentropy on softmax
    "seed": 0,  # torch.manual_seed(0), tf.random.set_seed(0) (training code)
}


def manifest(architecture: str, submission_id: str, source_name: str) -> dict[str, Any]:
    """The manifest of one sweep, without `trials_table` and `artifacts` (the importer adds those)."""
    arch = ARCHITECTURES[architecture]
    return {
        "schema_version": "1.1",
        "submission": {
            "id": submission_id,
            "title": f"CrossedWires 2021: {arch['title']} on CIFAR-10, 400 PyTorch/TensorFlow trials (results only)",
            "description": DESCRIPTION.format(title=arch["title"], source=source_name),
            "contributors": [{"name": name} for name in ("Max Zvyagin", "Thomas Brettin", "Arvind Ramanathan",
                                                        "Sumit Kumar Jha")],
            "license": LICENSE,
            "references": [
                {"doi": PAPER_DOI, "citation": PAPER_CITATION},
                {"url": RELEASE_URL, "citation": "The original release: W&B exports under "
                                                 "src/crossedwires/cifar10/<architecture>/."},
                {"url": TRAINING_CODE_URL, "citation": "The training code of the release (cross_framework_hpo)."},
            ],
        },
        "frameworks": FRAMEWORKS,
        "architecture": {
            "name": architecture,
            "num_classes": 10,
            "input_shape": {"height": 32, "width": 32, "channels": 3},
            "parameter_count": arch["parameter_count"],
            "implementations": {
                key: {"definition": arch[key][0], "layout": layout, "modifications": arch[key][1]}
                for key, layout in (("pytorch", "NCHW"), ("tensorflow", "NHWC"))
            },
        },
        "dataset": DATASET,
        "hardware": HARDWARE,
        "hyperparameters": HYPERPARAMETERS,
        "sweep": {**SWEEP, "search_space": SEARCH_SPACE},
    }
