# extrapolate_collapse_vs_length — written by `bench report`. Redraw from the report folder: gnuplot gnuplot/extrapolate_collapse_vs_length.gp
set encoding utf8
$d0 << EOD
256 1 0
512 1.619472738 0
1024 2.88256781 0
2048 3.225084415 0
EOD
$d1 << EOD
256 1 0
512 1.085177354 0
1024 1.123807614 0
2048 1.032976983 0
EOD
$d2 << EOD
256 1 0
512 1.116217082 0
1024 1.178278411 0
2048 1.606951741 0
EOD
$d3 << EOD
256 1 0
512 1.058472772 0
1024 1.082328451 0
2048 0.9802099859 0
EOD
set terminal pngcairo size 800,560 font 'DejaVu Sans,17' linewidth 2 rounded enhanced
set output 'extrapolate_collapse_vs_length.png'
set border 3 linewidth 1
set tics nomirror out scale 0.6
set grid xtics ytics mytics linecolor rgb '#e6e6e6' linewidth 0.6 dashtype 1, linecolor rgb '#f2f2f2' linewidth 0.5
set key top left reverse Left samplen 2 spacing 1.15 font ',15' opaque box linecolor rgb '#ffffff'
set xlabel 'Context length (tokens)' noenhanced
set ylabel 'Collapse ratio PPL(L) / PPL(256)' noenhanced
set logscale x 2
set offsets graph 0.04, graph 0.04, graph 0.05, graph 0.05
set autoscale xfix
set xtics ('256' 256, '512' 512, '1k' 1024, '2k' 2048)
set arrow from graph 0, first 3 to graph 1, first 3 nohead dashtype 2 linecolor rgb '#c0392b' linewidth 1 back
set label 10 'severe (3x)' noenhanced at graph 0.98, first 3 right offset 0,0.6 textcolor rgb '#c0392b' font ',13'
set arrow from graph 0, first 2 to graph 1, first 2 nohead dashtype 2 linecolor rgb '#c0392b' linewidth 1 back
set label 11 'boundary (2x)' noenhanced at graph 0.98, first 2 right offset 0,0.6 textcolor rgb '#c0392b' font ',13'
plot $d0 using 1:2 with linespoints pointtype 7 pointsize 1.2 linewidth 1.5 linecolor rgb '#0072B2' title 'native' noenhanced, \
     $d1 using 1:2 with linespoints pointtype 5 pointsize 1.2 linewidth 1.5 linecolor rgb '#D55E00' title 'yarn_x8' noenhanced, \
     $d2 using 1:2 with linespoints pointtype 9 pointsize 1.2 linewidth 1.5 linecolor rgb '#009E73' title 'dynamic' noenhanced, \
     $d3 using 1:2 with linespoints pointtype 11 pointsize 1.2 linewidth 1.5 linecolor rgb '#CC79A7' title 'pi_x8' noenhanced
set terminal svg size 800,560 dynamic font 'DejaVu Sans,17' linewidth 2 rounded enhanced
set output 'extrapolate_collapse_vs_length.svg'
replot
unset output
