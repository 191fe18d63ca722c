# kv-cache_ppl_vs_length — written by `bench report`. Redraw from the report folder: gnuplot gnuplot/kv-cache_ppl_vs_length.gp
set encoding utf8
$d0 << EOD
256 26.72544512 0
1024 55.87854508 0
2048 67.52058716 0
EOD
$d1 << EOD
256 26.72544512 0
1024 29.0550489 0
2048 25.82892693 0
EOD
set terminal pngcairo size 800,560 font 'DejaVu Sans,17' linewidth 2 rounded enhanced
set output 'kv-cache_ppl_vs_length.png'
set border 3 linewidth 1
set tics nomirror out scale 0.6
set grid xtics ytics mytics linecolor rgb '#e6e6e6' linewidth 0.6 dashtype 1, linecolor rgb '#f2f2f2' linewidth 0.5
set key top left reverse Left samplen 2 spacing 1.15 font ',15' opaque box linecolor rgb '#ffffff'
set logscale y 10
set yrange [17.21928462:101.2808807]
set ytics ('20' 20, '50' 50, '100' 100)
set mytics 10
set xlabel 'Context length (tokens)' noenhanced
set ylabel 'Perplexity (log scale)' noenhanced
set logscale x 2
set offsets graph 0.04, graph 0.04, 0, 0
set autoscale xfix
set xtics ('256' 256, '1k' 1024, '2k' 2048)
plot $d0 using 1:2 with linespoints pointtype 13 pointsize 1.2 linewidth 1.5 linecolor rgb '#E69F00' title 'full' noenhanced, \
     $d1 using 1:2 with linespoints pointtype 15 pointsize 1.2 linewidth 1.5 linecolor rgb '#56B4E9' title 'stream' noenhanced
set terminal svg size 800,560 dynamic font 'DejaVu Sans,17' linewidth 2 rounded enhanced
set output 'kv-cache_ppl_vs_length.svg'
replot
unset output
