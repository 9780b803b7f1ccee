// SPDX-License-Identifier: MIT
/* train_mpi.h: `mlpcl train` under mpirun (train_mpi.c): MPI's start and end around the
 * command, and the rank that alone prints, logs and saves. */
#ifndef MLPCL_TRAIN_MPI_H
#define MLPCL_TRAIN_MPI_H

/* Before the command: under a launcher with more than one rank, starts MPI and silences every
 * rank's standard output but rank 0's. 0 to go on, or the exit status of a refusal (a build
 * without MPI started under mpirun), already reported. */
int train_mpi_start(void);
/* After the command, with its exit status rc: ends MPI (a failure of one rank ends every rank
 * at once, MPI_Abort); returns rc. */
int train_mpi_end(int rc);
/* This process's rank (0 outside MPI): only rank 0 writes files. */
int train_mpi_rank(void);
/* The ranks training together (1 outside MPI). */
int train_mpi_size(void);

#endif
