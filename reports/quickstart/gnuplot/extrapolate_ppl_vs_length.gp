# extrapolate_ppl_vs_length — written by `bench report`. Redraw from the report folder: gnuplot gnuplot/extrapolate_ppl_vs_length.gp
set encoding utf8
$d0 << EOD
256 26.81412916 0
512 43.42475117 0
1024 77.29354557 0
2048 86.47783006 0
EOD
$d1 << EOD
256 29.02316792 0
512 31.49528456 0
1024 32.61645709 0
2048 29.98026442 0
EOD
$d2 << EOD
256 26.81412916 0
512 29.93038899 0
1024 31.59450951 0
2048 43.08901154 0
EOD
$d3 << EOD
256 51.86027571 0
512 54.89268981 0
1024 56.12985187 0
2048 50.83396013 0
EOD
set terminal pngcairo size 800,560 font 'DejaVu Sans,17' linewidth 2 rounded enhanced
set output 'extrapolate_ppl_vs_length.png'
set border 3 linewidth 1
set tics nomirror out scale 0.6
set grid xtics ytics mytics linecolor rgb '#e6e6e6' linewidth 0.6 dashtype 1, linecolor rgb '#f2f2f2' linewidth 0.5
set key top left reverse Left samplen 2 spacing 1.15 font ',15' opaque box linecolor rgb '#ffffff'
set logscale y 10
set yrange [17.87608611:129.7167451]
set ytics ('20' 20, '50' 50, '100' 100)
set mytics 10
set xlabel 'Context length (tokens)' noenhanced
set ylabel 'Perplexity (log scale)' noenhanced
set logscale x 2
set offsets graph 0.04, graph 0.04, 0, 0
set autoscale xfix
set xtics ('256' 256, '512' 512, '1k' 1024, '2k' 2048)
plot $d0 using 1:2 with linespoints pointtype 7 pointsize 1.2 linewidth 1.5 linecolor rgb '#0072B2' title 'native' noenhanced, \
     $d1 using 1:2 with linespoints pointtype 5 pointsize 1.2 linewidth 1.5 linecolor rgb '#D55E00' title 'yarn_x8' noenhanced, \
     $d2 using 1:2 with linespoints pointtype 9 pointsize 1.2 linewidth 1.5 linecolor rgb '#009E73' title 'dynamic' noenhanced, \
     $d3 using 1:2 with linespoints pointtype 11 pointsize 1.2 linewidth 1.5 linecolor rgb '#CC79A7' title 'pi_x8' noenhanced
set terminal svg size 800,560 dynamic font 'DejaVu Sans,17' linewidth 2 rounded enhanced
set output 'extrapolate_ppl_vs_length.svg'
replot
unset output
