#!/usr/bin/perl
# rewrite.pl FILE.cu — prints FILE.cu as C++ for the CUDA simulator (see cuda_sim.h): every launch
# `k<<<grid, block[, smem[, stream]]>>>(args)` becomes
# `cuda_sim::bind(k, "k", cuda_sim::Config(grid, block, ...))(args)`, and every
# `extern __shared__ [__align__(N)] T name[];` a pointer to the launch's dynamic shared memory, and
# every other __shared__ variable registers itself with the simulator (see below), and a kernel's
# __launch_bounds__ becomes a check at the top of its body. Used for the
# kernels' headers (.cuh) too.
# Line numbers are kept (#line and no added newlines), so diagnostics point at FILE.cu.
use strict;
use warnings;

my $path = $ARGV[0] or die "usage: rewrite.pl FILE.cu|FILE.cuh\n";
open(my $in, '<', $path) or die "rewrite.pl: cannot read $path: $!\n";
local $/;
my $s = <$in>;
close($in);

$s =~ s{\bextern\s+__shared__\s+(?:__align__\(\s*\d+\s*\)\s+)?([A-Za-z_][\w ]*?)\s+(\w+)\s*\[\s*\]\s*;}
       {$1 *$2 = reinterpret_cast<$1 *>(cuda_sim::dynamic_smem());}g;
# Static shared memory: each variable registers itself (once, the first time a thread reaches
# its declaration) so that the simulator fills it with 0xff bytes at the start of every later
# block, as it does the dynamic shared memory.
$s =~ s{(?<!extern )\b__shared__\s+([^;{}()]+?)\s*;}
       {my $decl = $1; my @regs;
        for my $d (split /,/, ($decl =~ s/^\s*[\w:<>]+(?:\s+[\w:<>]+)*?\s+(?=[\w*])//r)) {
          my ($name) = $d =~ /^\s*\**\s*(\w+)/ or next;
          push @regs, "static const bool ${name}_sim_registered = cuda_sim::register_shared(&$name, sizeof $name); (void)${name}_sim_registered;";
        }
        "__shared__ $decl; " . join(" ", @regs)}ge;
# __launch_bounds__(N): checked when the kernel runs (a GPU refuses a launch of more threads).
$s =~ s#__launch_bounds__\s*\(((?:[^()]++|\((?1)\))*)\)([^\{;]*?)\{#$2\{ cuda_sim::launch_bounds($1);#g;
my $launches = 0;
$s =~ s{([A-Za-z_][\w:]*(?:\s*<[^<>;(){}]*>)?)\s*<<<(.*?)>>>}
       {$launches++; my ($k, $c) = ($1, $2); (my $q = $k) =~ s/\s+/ /g;
        "cuda_sim::bind($k, \"$q\", cuda_sim::Config($c))"}gse;
die "rewrite.pl: $path: a launch the rewrite did not recognise\n" if $s =~ /<<</;
print "#line 1 \"$path\"\n", $s;
