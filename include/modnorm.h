/* modnorm.h — the whole public API. See README.md for a tour. */
#ifndef MODNORM_H
#define MODNORM_H

#include "modnorm/export.h"
#include "modnorm/status.h"
#include "modnorm/tensor.h"
#include "modnorm/rng.h"
#include "modnorm/norm.h"
#include "modnorm/polar.h"
#include "modnorm/npy.h"
#include "modnorm/safetensors.h"
#include "modnorm/module.h"
#include "modnorm/module_ops.h"
#include "modnorm/network.h"
#include "modnorm/attention.h"
#include "modnorm/graph.h"
#include "modnorm/modular.h"
#include "modnorm/optim.h"
#include "modnorm/data.h"
#include "modnorm/text.h"
#include "modnorm/dist.h"
#include "modnorm/train.h"
#include "modnorm/checkpoint.h"
#include "modnorm/study.h"
#include "modnorm/coordcheck.h"
#include "modnorm/bench.h"

#define MN_VERSION "0.1.0"

#endif
